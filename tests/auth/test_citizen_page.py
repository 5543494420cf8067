"""The citizen page offers sign-in, identity binding, refresh and logout against the auth endpoints."""


def test_page_has_the_binding_form_and_script_uses_the_endpoints(client):
    page = client.get("/m/").get_data(as_text=True)
    assert 'id="bind"' in page and 'id="bind-id"' in page and 'id="logout"' in page
    text = ""
    for module in ("citizen.js", "api.js"):  # the page's script and the API client it imports
        script = client.get(f"/static/web/{module}")
        text += script.get_data(as_text=True)
        script.close()
    assert 'from "./api.js"' in text
    for path in ("/api/auth/sms/send", "/api/auth/sms/login", "/api/auth/refresh", "/api/auth/identity",
                 "/api/auth/logout"):
        assert path in text, path
