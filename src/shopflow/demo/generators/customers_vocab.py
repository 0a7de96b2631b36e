"""Vocabulary of the seed-004 CRM: a UK shop's customers, mostly British, some from Europe and the US.

Each country has the spellings a CRM accumulates (`UK`, `U.K.`, `england`, `Great Britain`...),
a postcode shape and a phone prefix. The spellings match the aliases the example's models map;
the few typos do not, on purpose.
"""

from __future__ import annotations

# country: (weight, canonical name, other spellings, typos, phone prefix, digits after it, postcode kind)
COUNTRIES: dict[str, tuple[int, str, tuple[str, ...], tuple[str, ...], str, int, str]] = {
    "GB": (70, "United Kingdom", ("UK", "U.K.", "GB", "Great Britain", "England", "Scotland", "Wales", "uk",
                                 "united kingdom", "United Kingdom "), ("Untied Kingdom", "Unitd Kingdom"),
           "07700 900", 3, "uk"),
    "IE": (8, "Ireland", ("Eire", "Republic of Ireland", "IE", "ireland"), ("Irland",), "+353 87 ", 7, "ie"),
    "FR": (5, "France", ("FR", "france"), ("Frnace",), "+33 6 ", 8, "5"),
    "DE": (5, "Germany", ("Deutschland", "DE", "germany"), ("Germny",), "+49 30 ", 7, "5"),
    "ES": (3, "Spain", ("España", "ES", "spain"), ("Spian",), "+34 6", 8, "5"),
    "IT": (3, "Italy", ("Italia", "IT", "italy"), ("Itlay",), "+39 3", 9, "5"),
    "NL": (2, "Netherlands", ("The Netherlands", "Holland", "NL"), ("Netherland",), "+31 6 ", 8, "nl"),
    "PT": (1, "Portugal", ("PT", "portugal"), ("Portugual",), "+351 9", 8, "pt"),
    "US": (3, "United States", ("USA", "US", "U.S.A.", "United States of America", "usa"), ("Untied States",),
           "+1 212 555 ", 4, "us"),
}

# (city, country code, postcode prefix)
CITIES: tuple[tuple[str, str, str], ...] = (
    ("London", "GB", "SW"), ("London", "GB", "NW"), ("London", "GB", "E"), ("London", "GB", "SE"),
    ("Manchester", "GB", "M"), ("Birmingham", "GB", "B"), ("Leeds", "GB", "LS"), ("Glasgow", "GB", "G"),
    ("Edinburgh", "GB", "EH"), ("Bristol", "GB", "BS"), ("Liverpool", "GB", "L"), ("Cardiff", "GB", "CF"),
    ("Belfast", "GB", "BT"), ("Oxford", "GB", "OX"), ("Cambridge", "GB", "CB"), ("Brighton", "GB", "BN"),
    ("York", "GB", "YO"), ("Leicester", "GB", "LE"), ("Norwich", "GB", "NR"), ("Bath", "GB", "BA"),
    ("Newcastle upon Tyne", "GB", "NE"), ("Sheffield", "GB", "S"), ("Nottingham", "GB", "NG"),
    ("Dublin", "IE", "D"), ("Cork", "IE", "T"), ("Galway", "IE", "H"),
    ("Paris", "FR", "75"), ("Lyon", "FR", "69"), ("Marseille", "FR", "13"),
    ("Berlin", "DE", "10"), ("Munich", "DE", "80"), ("Hamburg", "DE", "20"),
    ("Madrid", "ES", "28"), ("Barcelona", "ES", "08"), ("Milan", "IT", "20"), ("Rome", "IT", "00"),
    ("Amsterdam", "NL", "10"), ("Rotterdam", "NL", "30"), ("Lisbon", "PT", "11"), ("Porto", "PT", "40"),
    ("New York", "US", "100"), ("Chicago", "US", "606"), ("Boston", "US", "021"),
)

FIRST_NAMES = (
    "Oliver", "George", "Harry", "Jack", "Jacob", "Noah", "Charlie", "Thomas", "Oscar", "William", "James", "Leo",
    "Alfie", "Henry", "Joshua", "Freddie", "Archie", "Ethan", "Isaac", "Alexander", "Olivia", "Amelia", "Isla",
    "Ava", "Emily", "Sophia", "Grace", "Mia", "Poppy", "Ella", "Lily", "Evie", "Isabella", "Sophie", "Ivy", "Freya",
    "Harper", "Willow", "Daisy", "Chloé", "Zoë", "Seán", "Aoife", "Siobhán", "Ciarán", "Niamh", "Hannah", "Lukas",
    "Léa", "Mateo", "Lucía", "Giulia", "Matteo", "Sanne", "Daan", "Inês", "João", "Priya", "Mohammed", "Fatima",
    "Aisha", "Omar", "Yusuf", "Wei", "Mei", "Kwame", "Ama",
)

LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Patel",
    "Khan", "Lewis", "James", "Phillips", "Mason", "Mitchell", "Rose", "Davis", "Rodriguez", "Cox", "Alexander",
    "Morgan", "Moore", "Mills", "King", "Lee", "Harris", "Hughes", "Edwards", "O'Brien", "O'Connor", "Murphy",
    "Kelly", "Byrne", "Walsh", "Ryan", "Müller", "Schmidt", "Schneider", "Martin", "Bernard", "Dubois", "García",
    "Fernández", "López", "Rossi", "Russo", "Ferrari", "de Jong", "Jansen", "Silva", "Santos", "Ferreira", "Nowak",
    "Kowalski", "Singh", "Ali", "Chen", "Okafor", "Mensah",
)

STREETS = (
    "High", "Baker", "Church", "Station", "Victoria", "Park", "Mill", "Queen", "King", "London", "Manor", "Grove",
    "Castle", "Bridge", "Chapel", "North", "South", "West", "East", "Orchard", "Willow", "Elm", "Oak", "Cedar",
    "Abbey", "Albert", "Alexandra", "Windsor", "Kings", "Meadow", "Springfield", "Riverside",
)

STREET_SUFFIXES = ("Street", "Road", "Lane", "Avenue", "Close", "Way", "Gardens", "Drive", "Crescent", "Terrace")

EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.co.uk", "hotmail.co.uk", "btinternet.com", "icloud.com",
                 "example.com", "mail.co.uk")
EMAIL_DOMAIN_WEIGHTS = (30, 15, 12, 10, 8, 8, 10, 7)

# Transactions: categories, payment methods and statuses as the payment system writes them, and
# the stray spellings that appear in a share of the records.
CATEGORIES = ("Clothing", "Electronics", "Books", "Home & Garden", "Toys", "Beauty", "Sports")
CATEGORY_WEIGHTS = (24, 18, 16, 16, 9, 10, 7)
PAYMENT_METHODS = ("card", "paypal", "bank_transfer")
PAYMENT_WEIGHTS = (70, 20, 10)
PAYMENT_VARIANTS = ("Card", "credit card", "debit card", "PayPal", "bank transfer", "cash", "cheque")
CURRENCY_VARIANTS = ("gbp", " GBP", "GBP ", "EUR", " EUR", "eur", "USD")
STATUS_VARIANTS = ("Completed", "COMPLETED", "Pending", "cancelled", "chargeback")
