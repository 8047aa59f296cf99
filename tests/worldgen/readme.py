"""The README written next to a generated world: each file's shape, as its owner would describe it.

It says what the columns and fields hold and in which formats, as a data owner hands a
file over. It does not say which idgraph identifier kind or attribute each field is:
that is the mapping, which a user writes (`idgraph mapping suggest` / `check`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.worldgen.sources import FILES

if TYPE_CHECKING:
    from tests.worldgen.generate import World

CSV_INTROS = {
    "crm": "The customer-service CRM's account export. CSV, UTF-8, comma-separated, header "
    "row. One row per account, in order of creation; one person may have two accounts.",
    "pos": "The stores' loyalty-card member list. CSV, UTF-8, header row. One row per card; "
    "a member may hold two cards. There is no country column: the store is in the member's "
    "country.",
    "support": "The help desk's ticket export. CSV, UTF-8, header row. One row per ticket; "
    "a person may have several.",
    "newsletter": "The e-mail service's subscriber list. CSV, UTF-8, header row. One row per "
    "address; no names.",
}
COLUMNS = {
    "crm": (
        ("account_id", "the account number (`ACC-…`), unique"),
        ("title", "Mr, Mrs, Ms, Miss, Dr or empty"),
        ("first_name, middle_name, last_name", "as the agent or the customer typed them"),
        ("email", "the contact e-mail address, may be empty"),
        ("phone", "a phone number (home or mobile), written as given, may be empty"),
        ("mobile", "a mobile number, may be empty"),
        (
            "date_of_birth",
            "mixed formats: `1984-03-01`, `01/03/1984`, `1 Mar 1984`, `01.03.1984`; "
            "rows of US customers write month first (`03/01/1984`) or `Mar 1, 1984`",
        ),
        (
            "address_line1, address_line2, city, region, postcode",
            "the postal address in the style of the customer's country",
        ),
        ("country_code", "the country, ISO 3166 alpha-2 as typed (not always valid)"),
        ("account_created, last_modified", "`YYYY-MM-DD HH:MM:SS`, the CRM's clock"),
    ),
    "pos": (
        ("card_number", "the 16-digit card number, unique"),
        (
            "member_name",
            "the name as one field, as the till took it (`John Smith`, `Smith, John`, "
            "`Mrs J. Smith`, `ZHANG Wei`, `Khun Nok` …)",
        ),
        ("phone", "as typed at the till, usually without the country code"),
        ("email", "may be empty"),
        ("postcode", "the member's postcode"),
        ("birthday", "day and month only (`01/03`, US stores `03/01`, or `1 Mar`), may be empty"),
        ("home_store", "the store where the card was issued"),
        (
            "enrolled_on",
            "the date the card was issued in the store's format: `dd/mm/yyyy`, "
            "US stores `mm/dd/yyyy`",
        ),
        ("last_purchase_at", "`YYYY-MM-DD HH:MM`"),
        ("points_balance", "integer"),
    ),
    "support": (
        ("ticket_id", "the ticket number, unique"),
        ("created_at", "`YYYY-MM-DD HH:MM:SS`"),
        ("channel", "email, web, chat or phone"),
        (
            "requester",
            'the sender: `Name <address>`, `"Smith, John" <address>`, a bare address, '
            "or (phone tickets) a name only",
        ),
        ("subject", "the ticket's subject"),
        ("phone", "a phone number given in the ticket, may be empty"),
        (
            "address",
            "a postal address on one line as the customer wrote it, sometimes ending in "
            "the country's name, may be empty",
        ),
        ("status", "open, pending, solved or closed"),
    ),
    "newsletter": (
        ("subscriber_id", "the service's subscriber number, unique"),
        ("email", "the subscribed address as entered"),
        ("opted_in_at", "`dd/mm/yyyy HH:MM`"),
        ("status", "subscribed, unsubscribed or cleaned (bounced)"),
        ("lists", "`weekly`, `offers` or both separated by `;`"),
        ("signup_source", "website, checkout, in-store, app or import"),
    ),
}
JSON_DESCRIPTIONS = {
    "webshop": """\
The web shop's customer export. JSON Lines (one JSON object per line), UTF-8.
One object per customer account:

```json
{"customer_ref": "cus_…", "created_at": "2021-05-03T14:22:10Z", "updated_at": "…",
 "name": {"first": "…", "last": "…"},
 "date_of_birth": "1984-03-01" or null,
 "contact": {"email": "…", "email_verified": true, "phones": ["+44 7700 900123", …],
             "marketing_opt_in": false},
 "addresses": [{"type": "shipping" | "billing", "line1": "…", "line2": "…" (optional),
                "city": "…", "region": "…" or null, "postcode": "…",
                "country": "United Kingdom" | "Deutschland" | "PL" | null}, …],
 "orders": {"count": 3, "total": {"amount": "123.40", "currency": "GBP"}},
 "locale": "en-GB"}
```

`contact.phones` may be empty; `addresses[0]` is the current default address, a later
shipping address is an older one. `country` is the country's name as the customer picked
or typed it (English or local name, sometimes a code, sometimes missing).
""",
    "app": """\
The app and web tracking log. JSON Lines, UTF-8, one event per line, in time order:

```json
{"event_id": "…", "type": "app_open" | "page_view" | "login" | "screen_view" | "search" |
         "product_view" | "add_to_cart" | "purchase",
 "timestamp": "2025-03-01T10:00:00.123Z", "channel": "app" | "web",
 "device": {"id": "…", "platform": "ios" | "android", "model": "…", "app_version": "…"},
 "anonymous_id": "…",
 "user": {"id": "cus_…" or null, "email": "…"} or null,
 "locale": "en-GB",
 "properties": {"url" | "screen": "…", "query": "…", "product": "…",
                "order_value": 42.5, "currency": "GBP"}}
```

App events carry `device`, web events `anonymous_id` (the browser's cookie). `user` is
set once the person has logged in in that session and is null before that and in
anonymous sessions; `user.id` is the web shop's customer reference when there is one.
""",
}


def describe(source: str) -> str:
    """The section of the README about one file (its heading excluded)."""
    if source in JSON_DESCRIPTIONS:
        return JSON_DESCRIPTIONS[source].rstrip()
    rows = "\n".join(f"| {column} | {holds} |" for column, holds in COLUMNS[source])
    return f"{CSV_INTROS[source]}\n\n| column | holds |\n|---|---|\n{rows}"


def write_readme(world: World) -> None:
    lines = [
        "# A generated world",
        "",
        f"Written by `python -m tests.worldgen --people {world.people} --seed {world.seed}`: "
        f"{world.people:,} people in {world.households:,} households, living in the UK, the US, "
        "India, Poland, Germany, Kenya, China and Thailand (some of them with names from "
        "another of these countries or from Ukraine). Six systems hold them; each file below "
        "is one system's export, described as its owner would hand it over.",
        "",
        "| file | rows |",
        "|---|---:|",
    ]
    for source, spec in FILES.items():
        lines.append(f"| `{spec.file_name}` | {world.records[source]:,} |")
    lines.append("")
    for source, spec in FILES.items():
        lines += [f"## `{spec.file_name}`", "", describe(source), ""]
    lines += [
        "## The truth",
        "",
        "`truth.csv` (`source,record_key,entity_id`) names the person behind every row of "
        "every file above, events included: `source` is "
        + ", ".join(f"`{source}`" for source in FILES)
        + " in the file order above, `record_key` the value of the file's key field "
        "("
        + ", ".join(f"`{spec.key}`" for spec in FILES.values())
        + "), `entity_id` the person. Members of one household are different people.",
        "",
        "`truth_entities.csv` describes each person: household, country, where the name "
        "comes from, the name as on their passport and the one they go by, birth date, and "
        "the person they are a "
        "twin of, a namesake of, or share an e-mail local part with at another provider.",
        "",
        "Neither file is an input: load only the six exports.",
        "",
        "## What this world holds",
        "",
        "| quirk | count |",
        "|---|---:|",
    ]
    for quirk, count in sorted(world.quirks.items()):
        lines.append(f"| {quirk} | {count:,} |")
    lines.append("")
    world.readme.write_text("\n".join(lines), encoding="utf-8")
