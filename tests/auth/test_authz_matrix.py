"""Who may call what: every rule of the app's URL map, for every role.

A route missing from RULES fails the test, and so does an entry for a route that no longer
exists. To add a route: one line in RULES (`PUBLIC`, or `allow(role, ...)` with the roles that
pass the guard), and a sample value in PARAMS if the rule has a new path parameter.

"ok" means the guard let the call through: the answer may still be 4xx for the body we send,
but never 401/403 with `unauthorized`/`forbidden`, and never 5xx. A denied role must get exactly
401 `unauthorized` (anonymous) or 403 `forbidden` (signed in with the wrong role).
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from backend.auth.models import CitizenAccount, Device, MerchantStaff, OfficeUser
from backend.auth.privacy import NOTICE_VERSION
from backend.auth.service import Principal, issue_access_token
from backend.demo import DEMO_PHONES
from backend.extensions import db
from backend.merchants.models import Partner

ROLES = ("anonymous", "citizen", "other_citizen", "company_rep", "cashier", "other_cashier", "merchant_admin",
         "device", "office_analyst", "office_admin", "office_auditor")
CITIZENS = ("citizen", "other_citizen", "company_rep")
MERCHANT = ("cashier", "other_cashier", "merchant_admin", "device")
OFFICE = ("office_analyst", "office_admin", "office_auditor")
SIGNED_IN = tuple(r for r in ROLES if r != "anonymous")
OK = "ok"
PUBLIC = {role: OK for role in ROLES}


def allow(*roles: str, **overrides) -> dict:
    """`roles` pass the guard; anonymous gets 401, everyone else 403; `overrides` pin exact statuses."""
    table = {role: (OK if role in roles else 403) for role in ROLES}
    table["anonymous"] = OK if "anonymous" in roles else 401
    table.update(overrides)
    return table


RULES: dict[tuple[str, str], dict] = {
    # the app itself, documentation, pages
    ("GET", "/static/<path:filename>"): PUBLIC,
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/docs/vendor/<filename>"): PUBLIC,  # Swagger UI from npm (backend/web)
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/api/ping"): PUBLIC,
    ("GET", "/static/web/<path:filename>"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/m/"): PUBLIC,
    ("GET", "/gongshi/"): PUBLIC,  # 公示: the public directory, by design without sign-in
    ("GET", "/office/"): PUBLIC,  # the page itself; every call it makes is guarded below
    ("GET", "/office/vendor/<path:path>"): PUBLIC,
    ("GET", "/merchant"): PUBLIC,
    ("GET", "/merchant/"): PUBLIC,  # the back-office page; its calls are guarded below
    ("GET", "/scanner"): PUBLIC,
    ("GET", "/scanner/"): PUBLIC,
    ("GET", "/scanner/vendor/<path:path>"): PUBLIC,
    ("GET", "/scanner/<path:path>"): PUBLIC,
    # sign-in and sessions
    ("POST", "/api/auth/sms/send"): PUBLIC,
    ("POST", "/api/auth/sms/login"): PUBLIC,
    ("POST", "/api/auth/wechat/login"): PUBLIC,
    ("GET", "/api/auth/wechat/web"): PUBLIC,
    ("POST", "/api/auth/wechat/web/login"): PUBLIC,
    ("GET", "/api/auth/privacy"): PUBLIC,
    ("GET", "/api/auth/methods"): PUBLIC,
    ("POST", "/api/auth/consent"): allow(*CITIZENS),
    ("DELETE", "/api/auth/account"): allow(*CITIZENS),
    ("POST", "/api/auth/staff/login"): PUBLIC,
    ("POST", "/api/auth/office/login"): PUBLIC,
    ("POST", "/api/auth/refresh"): PUBLIC,
    ("POST", "/api/auth/logout"): allow(*SIGNED_IN),
    ("GET", "/api/auth/me"): allow(*CITIZENS),
    ("POST", "/api/auth/identity"): allow(*CITIZENS),
    # merchants and their devices
    ("POST", "/api/devices/enrol"): PUBLIC,
    ("GET", "/api/merchant/me"): allow(*MERCHANT),
    ("POST", "/api/merchant/enrolments"): allow("merchant_admin"),
    ("GET", "/api/merchant/devices"): allow("merchant_admin"),
    ("POST", "/api/merchant/devices/<int:device_id>/revoke"): allow("merchant_admin"),
    ("PATCH", "/api/merchant/devices/<int:device_id>"): allow("merchant_admin"),
    ("PATCH", "/api/merchant/staff/<int:staff_id>"): allow("merchant_admin"),
    ("POST", "/api/merchant/staff/<int:staff_id>/password"): allow("merchant_admin"),
    ("POST", "/api/redemptions/check"): allow(*MERCHANT),
    ("POST", "/api/pass/short-code"): allow(*CITIZENS),
    # the pass
    ("POST", "/api/pass"): allow(*CITIZENS),
    ("GET", "/api/pass/keys"): PUBLIC,
    ("POST", "/api/pass/verify"): allow(*MERCHANT),
    ("GET", "/api/pass/qr.png"): allow(*CITIZENS),
    ("GET", "/api/pass/qr.svg"): allow(*CITIZENS),
    # partners and redemption
    ("GET", "/api/partners"): PUBLIC,
    ("POST", "/api/redemptions"): allow(*MERCHANT),
    ("GET", "/api/redemptions"): allow(*MERCHANT),
    ("POST", "/api/redemptions/<int:redemption_id>/void"): allow(*MERCHANT),
    # credit data
    ("POST", "/api/credit/imports"): allow("office_admin"),
    ("GET", "/api/credit/imports/<int:job_id>"): allow(*OFFICE),
    ("GET", "/api/credit/imports/template"): allow("office_admin"),
    # the credit office
    ("GET", "/api/office/stats"): allow(*OFFICE),
    ("GET", "/api/office/stats.csv"): allow(*OFFICE),
    ("GET", "/api/office/offline-share"): allow(*OFFICE),
    ("GET", "/api/office/scenarios"): allow(*OFFICE),
    ("POST", "/api/office/scenarios"): allow("office_admin"),
    ("GET", "/api/office/partners"): allow(*OFFICE),
    ("POST", "/api/office/partners"): allow("office_admin"),
    ("PATCH", "/api/office/partners/<int:partner_id>"): allow("office_admin"),
    ("POST", "/api/office/partners/<int:partner_id>/exit"): allow("office_admin"),
    ("GET", "/api/office/ladder"): allow(*OFFICE),
    ("PUT", "/api/office/ladder"): allow("office_admin"),
    ("GET", "/api/office/areas"): allow(*OFFICE),
    ("POST", "/api/office/partners/<int:partner_id>/perks"): allow("office_admin"),
    ("PATCH", "/api/office/perks/<int:perk_id>"): allow("office_admin"),
    ("GET", "/api/office/calendars/<calendar>"): allow(*OFFICE),
    ("POST", "/api/office/calendars/<calendar>/days"): allow("office_admin"),
    ("DELETE", "/api/office/calendars/<calendar>/days/<day>"): allow("office_admin"),
    ("PUT", "/api/office/calendars/<calendar>/years/<int:year>"): allow("office_admin"),
    ("POST", "/api/office/redemptions/<int:redemption_id>/void"): allow("office_admin"),
    ("GET", "/api/office/redemption-conflicts"): allow(*OFFICE),
    ("POST", "/api/office/redemption-conflicts/<int:conflict_id>/resolve"): allow("office_admin"),
    ("GET", "/api/office/failed-attempts"): allow(*OFFICE),
    ("GET", "/api/office/representatives"): allow(*OFFICE),
    ("POST", "/api/office/partners/<int:partner_id>/staff"): allow("office_admin"),
    ("POST", "/api/office/partners/<int:partner_id>/enrolments"): allow("office_admin"),
    ("GET", "/api/office/error-messages"): allow(*OFFICE),
    ("GET", "/api/office/tiers"): allow(*OFFICE),
    ("GET", "/api/merchant/staff"): allow("merchant_admin"),
    ("POST", "/api/merchant/staff"): allow("merchant_admin"),
    ("POST", "/api/office/representatives"): allow("office_admin"),
    ("POST", "/api/office/representatives/<int:representative_id>/revoke"): allow("office_admin"),
    ("GET", "/api/office/audit"): allow("office_admin", "office_auditor"),
    ("GET", "/api/office/cases"): allow(*OFFICE),
    ("GET", "/api/office/cases/export"): allow("office_admin", "office_auditor"),
    ("GET", "/api/office/audit.csv"): allow("office_admin", "office_auditor"),
    # citizens' recourse
    ("GET", "/api/me/credit"): allow(*CITIZENS),
    ("GET", "/api/me/redemptions"): allow(*CITIZENS),
    ("POST", "/api/objections"): allow(*CITIZENS),
    ("GET", "/api/objections"): allow(*CITIZENS),
    ("GET", "/api/office/objections"): allow(*OFFICE),
    ("POST", "/api/office/objections/<int:objection_id>/answer"): allow("office_admin"),
    ("POST", "/api/office/objections/<int:objection_id>/accept"): allow("office_admin"),
    ("POST", "/api/office/objections/<int:objection_id>/assign"): allow("office_admin"),
    ("POST", "/api/objections/<int:objection_id>/photos"): allow(*CITIZENS),
    # the owner and the office only: a merchant never passes the guard, another citizen gets 404
    ("GET", "/api/objections/<int:objection_id>/photos/<int:photo_id>"): allow(*CITIZENS, *OFFICE),
    ("GET", "/api/merchant/complaints"): allow("merchant_admin"),
    # the merchant's statement, federation
    ("GET", "/api/merchant/statement"): allow("merchant_admin"),
    ("GET", "/api/federation/trust-list"): PUBLIC,
    # A partner city's server, proven by the signature in the body (backend/federation/visitors.py), not a session.
    ("POST", "/api/federation/visitor-tag"): PUBLIC,
    ("GET", "/api/federation/partners"): allow(*OFFICE),
    ("PUT", "/api/federation/partners/<int:partner_id>/tier-map"): allow("office_admin"),
}

# Sample path values: harmless ones (ids that do not exist, a day not in any calendar) so that the
# walk changes nothing that other tests rely on. "{spare_device}" is filled in by the fixture.
PARAMS = {
    "staff_id": "999999",
    "filename": "citizen.js", "path": "index.html", "device_id": "{spare_device}", "redemption_id": "999999",
    "job_id": "999999", "partner_id": "999999", "perk_id": "999999", "calendar": "major_holidays",
    "day": "2031-07-07", "conflict_id": "999999", "representative_id": "999999", "objection_id": "999999",
    "photo_id": "999999", "year": "2031",
}
DOCUMENTATION = {"openapi.spec", "openapi.docs", "openapi.swagger_ui_oauth_redirect"}
# What no merchant-side answer may ever contain: a holder's identity or anything stable about them.
IDENTITY_KEYS = {"id_number", "identity_hash", "phone", "subject_id", "score", "openid", "wechat_openid",
                 "account_id", "identity_name_hash", "holder_id"}


@pytest.fixture
def principals(app, client, auth_header):
    """One principal per role; tokens are minted per request so a logout in the walk spoils nothing."""
    with app.app_context():
        citizen = db.session.scalar(select(CitizenAccount).where(CitizenAccount.phone == DEMO_PHONES["citizen"]))
        company = db.session.scalar(select(CitizenAccount).where(CitizenAccount.phone == DEMO_PHONES["company"]))
        other = db.session.scalar(select(CitizenAccount).where(CitizenAccount.phone == "13699999999"))
        if other is None:
            other = CitizenAccount(phone="13699999999", privacy_version=NOTICE_VERSION)
            db.session.add(other)
        cashier = db.session.scalar(select(MerchantStaff).where(MerchantStaff.username == "lapenpen-cashier"))
        admin = db.session.scalar(select(MerchantStaff).where(MerchantStaff.username == "lapenpen-admin"))
        elsewhere = db.session.scalar(select(Partner).where(Partner.name == "大卫美术教育"))
        other_cashier = db.session.scalar(select(MerchantStaff).where(MerchantStaff.username == "matrix-other-cashier"))
        if other_cashier is None:
            other_cashier = MerchantStaff(partner_id=elsewhere.id, username="matrix-other-cashier",
                                          password_hash="$argon2id$unused", role="cashier")
            db.session.add(other_cashier)
        device = Device(partner_id=cashier.partner_id, name="matrix device")
        spare = Device(partner_id=cashier.partner_id, name="matrix spare device")
        db.session.add_all([device, spare])
        db.session.commit()
        office = {u.role: u.id for u in db.session.scalars(select(OfficeUser))}
        table = {
            "anonymous": None,
            "citizen": Principal("citizen", citizen.id, "citizen"),
            "other_citizen": Principal("citizen", other.id, "citizen"),
            "company_rep": Principal("citizen", company.id, "citizen"),
            "cashier": Principal("staff", cashier.id, "cashier", partner_id=cashier.partner_id),
            "other_cashier": Principal("staff", other_cashier.id, "cashier", partner_id=elsewhere.id),
            "merchant_admin": Principal("staff", admin.id, "merchant_admin", partner_id=admin.partner_id),
            "device": Principal("device", device.id, "device", partner_id=device.partner_id,
                                session_id=f"device-{device.id}"),
            "office_analyst": Principal("office", office["office_analyst"], "office_analyst"),
            "office_admin": Principal("office", office["office_admin"], "office_admin"),
            "office_auditor": Principal("office", office["office_auditor"], "office_auditor"),
        }
        return table, {"spare_device": str(spare.id)}


def _url(rule: str, samples: dict) -> str:
    def value(match):
        name = match.group(2)
        assert name in PARAMS, f"{rule}: add a sample value for <{name}> to PARAMS in {__file__}"
        return PARAMS[name].format(**samples)
    return re.sub(r"<(?:([a-z]+):)?([a-z_]+)>", value, rule)


def _keys(body) -> set[str]:
    if isinstance(body, dict):
        return set(body) | set().union(*(_keys(v) for v in body.values()))
    if isinstance(body, list):
        return set().union(*(_keys(v) for v in body)) if body else set()
    return set()


def test_every_route_has_an_entry_and_no_entry_is_stale(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    missing = sorted(routes - set(RULES))
    stale = sorted(set(RULES) - routes)
    assert not missing, f"routes with no entry in the authorization matrix: {missing}"
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


# Routes that would spoil a demo account for every later row and test: walked with a fresh account.
DESTRUCTIVE = {("DELETE", "/api/auth/account")}


def _throwaway_citizen(app) -> Principal:
    with app.app_context():
        account = CitizenAccount(privacy_version=NOTICE_VERSION)
        db.session.add(account)
        db.session.commit()
        return Principal("citizen", account.id, "citizen")


def test_every_role_gets_what_the_matrix_says(app, client, principals, wechat):
    table, samples = principals
    failures = []
    # Logout last: a device that signs out is un-enrolled, and its token would fail every later row.
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule == "/api/auth/logout"):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            expected = RULES.get((method, rule.rule))
            if expected is None:
                continue  # reported by the test above
            url = _url(rule.rule, samples)
            for role in ROLES:
                principal = table[role]
                if (method, rule.rule) in DESTRUCTIVE and principal is not None and principal.kind == "citizen":
                    principal = _throwaway_citizen(app)
                headers = {}
                if principal is not None:
                    with app.app_context():
                        token = issue_access_token(secret=app.config["SECRET_KEY"], principal=principal, minutes=5)
                    headers["Authorization"] = f"Bearer {token}"
                kwargs = {"json": {}} if method in {"POST", "PATCH", "PUT"} else {}
                response = client.open(url, method=method, headers=headers, **kwargs)
                body = response.get_json(silent=True)
                response.close()  # file responses hold an open file until closed
                code = body.get("code") if isinstance(body, dict) else None
                want = expected[role]
                where = f"{method} {url} as {role}: {response.status_code} {code}"
                if response.status_code >= 500:
                    failures.append(f"{where} (server error)")
                elif want == OK:
                    if code in {"unauthorized", "forbidden", "token_expired"}:
                        failures.append(f"{where}, expected the guard to let it through")
                elif response.status_code != want:
                    failures.append(f"{where}, expected {want}")
                if role in MERCHANT and body is not None and response.status_code < 300 and \
                        rule.endpoint not in DOCUMENTATION:
                    leaked = _keys(body) & IDENTITY_KEYS
                    if leaked:
                        failures.append(f"{where} shows a merchant identity fields {sorted(leaked)}")
    assert not failures, "\n".join(failures)


def test_a_citizen_sees_only_their_own_account(client, auth_header, new_citizen):
    _, other = new_citizen()
    mine = client.get("/api/auth/me", headers=auth_header("citizen")).json
    theirs = client.get("/api/auth/me", headers=other).json
    assert mine["id"] != theirs["id"] and mine["identity_bound"] and not theirs["identity_bound"]
    # There is no route that takes another account's id: /me is the only account view.
    assert not any("<" in rule and "/api/auth/" in rule for _, rule in RULES)
