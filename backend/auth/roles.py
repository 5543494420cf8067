"""The roles a session can carry, named once.

Every `auth_required(auth, roles=...)` names one of these groups; the CHECK constraints on the
account tables, the CLI's choices and the request schemas read them here too, so a new role is one
edit. A role is the `role` claim of an access token (backend/auth/service.py).
"""
from __future__ import annotations

CITIZEN = "citizen"  # a person, or a company's authorised representative
MERCHANT_ADMIN = "merchant_admin"
CASHIER = "cashier"
DEVICE = "device"  # a scanner phone enrolled with a one-time code
OFFICE_ADMIN = "office_admin"
OFFICE_ANALYST = "office_analyst"
OFFICE_AUDITOR = "office_auditor"

CITIZENS = (CITIZEN,)
# The roles of a merchant_staff row (its CHECK constraint lists them in this order).
MERCHANT_STAFF = (MERCHANT_ADMIN, CASHIER)
MERCHANT_ADMINS = (MERCHANT_ADMIN,)
# Whoever works for a merchant: its staff and its enrolled scanners. The token names the merchant.
MERCHANT_SIDE = (*MERCHANT_STAFF, DEVICE)
# The roles of an office_users row (its CHECK constraint lists them in this order); all may read.
OFFICE = (OFFICE_ADMIN, OFFICE_ANALYST, OFFICE_AUDITOR)
OFFICE_WRITERS = (OFFICE_ADMIN,)
# Who reads the audit log: the admin and the auditor (the analyst sees statistics, not who did what).
AUDIT_READERS = (OFFICE_ADMIN, OFFICE_AUDITOR)
# Who may see a citizen's evidence (an objection's photos): the citizen (their own only) and the office.
CITIZENS_AND_OFFICE = (*CITIZENS, *OFFICE)
EVERYONE = (*CITIZENS, *MERCHANT_SIDE, *OFFICE)
