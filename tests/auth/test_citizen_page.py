"""The citizen page offers sign-in, identity binding, refresh and logout against the auth endpoints."""
from pathlib import Path

CITIZEN_MODULES = Path(__file__).resolve().parents[2] / "backend" / "web" / "static" / "citizen"


def test_page_has_the_binding_form_and_script_uses_the_endpoints(client):
    page = client.get("/m/").get_data(as_text=True)
    assert 'id="bind"' in page and 'id="bind-id"' in page and 'id="logout"' in page
    text = ""
    # The page's script, its screens (citizen/*.js) and the API client they import.
    modules = ["citizen.js", "api.js", *(f"citizen/{path.name}" for path in sorted(CITIZEN_MODULES.glob("*.js")))]
    for module in modules:
        script = client.get(f"/static/web/{module}")
        text += script.get_data(as_text=True)
        script.close()
    assert 'from "../api.js"' in text
    for path in ("/api/auth/sms/send", "/api/auth/sms/login", "/api/auth/refresh", "/api/auth/identity",
                 "/api/auth/logout"):
        assert path in text, path
