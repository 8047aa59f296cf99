"""How often each real-world quirk happens: one place, so the README can quote it.

Rates are probabilities per person, household or record as each name says. They were set
from what real customer files look like, never tuned against any matcher or against the
demo generator; changing one changes the world every benchmark runs on, so do it in a
commit of its own that says why.
"""

from __future__ import annotations

# --- households ---------------------------------------------------------------------------
HOUSEHOLD_KINDS = {
    # kind: share of households (the multi-generation share is raised in IN, KE and CN)
    "single": 0.34,
    "couple": 0.30,
    "family": 0.16,  # a couple and 1-3 adult children
    "parent_child": 0.08,  # one parent and an adult child
    "flatmates": 0.07,  # 2-3 unrelated adults
    "multigen": 0.05,  # a grandparent, a couple, an adult child
}
MULTIGEN_COUNTRIES = {"IN": 0.18, "KE": 0.12, "CN": 0.12}
MEMBER_IS_CUSTOMER = 0.3  # another member of a customer's household is a customer too
TWINS_IN_FAMILY = 0.1  # a family with two or more adult children has a pair of twins
FAMILY_EMAIL = 0.20  # a related household shares a family e-mail address ...
FAMILY_EMAIL_USE = 0.4  # ... and each member gives it (instead of their own) in a record
LANDLINE_USE = 0.5  # a record's phone is the household landline, where there is one
MOVED = 0.08  # the household moved: older records carry the old address
SHARED_DEVICE = 0.25  # app users of one household share a tablet

# --- people -------------------------------------------------------------------------------
NAMESAKE = 0.02  # a person is given the exact full name of an earlier person of their origin
GOES_BY_SHORT = 0.35  # a person with a short form (Bill, Gosia, Sasha) goes by it
GOES_BY_ENGLISH = 0.3  # a Pole or Ukrainian abroad goes by an English name (Chris, Kate)
CHINESE_ENGLISH_NAME = 0.4  # a Chinese person has an English name (Kevin Zhang)
MARRIED_NAME = 0.05  # a woman in a couple took her partner's surname during the data
HISPANIC_SECOND_SURNAME = 0.35  # a US person with a Hispanic surname has two
EMAIL_CHANGED = 0.22  # a person changed their personal e-mail address during the data
WORK_EMAIL = 0.15  # a person also uses a work address (newsletter, support)
MOBILE_CHANGED = 0.08  # a person changed mobile number during the data
GOOGLEMAIL_EARLY = 0.7  # a UK or German Gmail account opened before 2012 is @googlemail.com
MS_ALIAS_COPY = 0.7  # a namesake takes the same local part at another Microsoft domain

# --- which sources a person is in (everyone is in at least one) ---------------------------
IN_SOURCE = {
    "crm": 0.55,
    "webshop": 0.50,
    "pos": 0.35,
    "support": 0.18,
    "newsletter": 0.40,
    "app": 0.30,
}
CRM_DUPLICATE = 0.05  # a CRM person has a second account (a new key)
WEBSHOP_SECOND_ACCOUNT = 0.03  # a shopper opened a second account with another e-mail
POS_SECOND_CARD = 0.05  # a loyalty member has a second (replacement) card
SUPPORT_MORE_TICKETS = 0.45  # chance of each further ticket (geometric, at most 6)
NEWSLETTER_RESUBSCRIBE = 0.5  # someone whose e-mail changed subscribed again with the new one
NEWSLETTER_WORK = 0.3  # someone with a work address subscribed it too

# --- per record: how names are written ----------------------------------------------------
TYPO = {"crm": 0.02, "webshop": 0.01, "pos": 0.04, "support": 0.02}  # per name field
EMAIL_TYPO = {"crm": 0.01, "pos": 0.03, "support": 0.005}
PHONE_TYPO = {"crm": 0.01, "pos": 0.02}  # two digits swapped (kept only if still valid)
SHORT_FORM_WHEN_GOES_BY = {"crm": 0.3, "webshop": 0.6, "pos": 0.7, "support": 0.7}
SHORT_FORM_OTHERWISE = 0.03
ALT_SPELLING = {"crm": 0.2, "webshop": 0.25, "pos": 0.3, "support": 0.25}
ASCII_ONLY = {"crm": 0.3, "webshop": 0.05, "pos": 0.6, "support": 0.2}  # diacritics lost
OWN_SCRIPT = {"crm": 0.03, "webshop": 0.2, "pos": 0.2, "support": 0.15}  # at home; abroad /10
FAMILY_NAME_FIRST = 0.12  # CRM: a Chinese name's family name typed as the first name
INDIAN_SURNAME_INITIAL = 0.1  # an Indian surname written as an initial (0.3 in the south)
PLACEHOLDER_SURNAME = 0.02  # an Indian single-name person's CRM last name is "."
UPPER_CASE = {"crm": 0.05, "pos": 0.15}
LOWER_CASE = {"webshop": 0.03, "support": 0.03}
INITIAL_ONLY = {"crm": 0.01, "support": 0.05}  # the first name as an initial

# --- per record: other fields -------------------------------------------------------------
BIRTH_DATE = {"crm": 0.7, "webshop": 0.5}
POS_BIRTHDAY = 0.4  # a loyalty card holds day and month of birth
POS_EMAIL = 0.35
POS_PHONE = 0.6
STORE_PHONE = 0.01  # the till's own phone number typed for a customer who gave none
SUPPORT_PHONE = 0.35
SUPPORT_ADDRESS = 0.5
SUPPORT_BARE_SENDER = 0.15  # the sender field is a bare address, no display name
GMAIL_DOTS = 0.05  # a Gmail address written with its dots moved or dropped
GMAIL_TAG = 0.05  # webshop: a Gmail address with a +tag
EMAIL_MIXED_CASE = 0.05
NEWSLETTER_SPACES = 0.01  # an address with stray spaces around it
ADDRESS_ABBREVIATED = 0.3  # Street/St, Straße/Str., ulica/ul.
CITY_OTHER_NAME = 0.15  # Warsaw for Warszawa, Bangalore for Bengaluru
UK_FOR_GB = 0.1  # CRM: "UK" in the ISO country code column
COUNTRY_CODE_MISSING = 0.03
COUNTRY_NAME_LOCAL = 0.15  # webshop: Deutschland, Polska
COUNTRY_NAME_ISO = 0.05  # webshop: an ISO code in the country name field
COUNTRY_NAME_MISSING = 0.05
