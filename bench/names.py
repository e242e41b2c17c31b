"""Word lists for generated companies, partners and people.

Customer names are built from three words (``Blue Ridge Analytics``), so two customers that
share two of their words are trigram neighbours around the default similarity threshold
(0.6): conflict detection at scale meets real near-misses, not only exact repeats.
None of these strings contains a tab, a newline or a backslash (COPY's text format).
"""

from __future__ import annotations

FIRST_WORDS = ["Blue", "Red", "Green", "Silver", "Golden", "North", "South", "East", "West", "Bright", "Swift", "Summit", "Pioneer", "Apex", "Granite", "Cedar", "Maple", "Oak", "Pine", "River", "Lake", "Harbor", "Coastal", "Iron", "Crystal", "Evergreen", "Atlas", "Nova", "Stellar", "Quantum", "Vertex", "Horizon", "Beacon", "Falcon", "Eagle", "Lion", "Tiger", "Wolf", "Bear", "Fox", "Hawk", "Raven", "Sparrow", "Orchid", "Willow", "Aspen", "Birch", "Cypress", "Juniper", "Sequoia", "Alder", "Copper", "Cobalt", "Amber", "Ivory", "Onyx", "Ruby", "Sapphire", "Emerald", "Jade", "Pearl", "Scarlet", "Crimson", "Azure", "Indigo", "Violet", "Saffron", "Polar", "Arctic", "Tropic", "Desert", "Prairie", "Canyon", "Meadow", "Glacier", "Thunder", "Storm", "Solar", "Lunar", "Orbit", "Comet", "Meteor", "Galaxy", "Cosmic", "Zenith", "Nimbus", "Vector", "Pixel", "Binary", "Cipher", "Matrix", "Fusion", "Nexus", "Vortex", "Prism", "Optic", "Kinetic", "Dynamic", "Agile", "Noble", "Royal", "Regal", "Liberty", "Unity", "Harmony", "Trinity", "Legacy", "Heritage", "Frontier", "Pacific", "Atlantic", "Nordic", "Alpine", "Highland", "Lowland", "Midland", "Central", "Metro", "Urban", "Rural", "Keystone", "Cornerstone", "Landmark", "Milestone"]

SECOND_WORDS = ["Ridge", "Valley", "Peak", "Stone", "Bridge", "Field", "Point", "Bay", "Creek", "Forge", "Works", "Gate", "Path", "Line", "Wave", "Light", "Star", "Cloud", "Wind", "Rock", "Wood", "Brook", "Hill", "Haven", "Crest", "Shore", "Port", "Grove", "Spring", "Falls", "Mill", "Crown", "Shield", "Arrow", "Spark", "Flame", "Frost", "Dawn", "Dusk", "Sky", "Sea", "Moon", "Sun", "Leaf", "Root", "Seed", "Bloom", "Branch", "Trail", "Track", "Way", "Point", "Tower", "Castle", "Harbor", "Anchor", "Compass", "Lantern", "Mirror", "Circle", "Square", "Cube", "Sphere", "Pillar", "Arch", "Dome", "Summit", "Cove", "Isle", "Mesa", "Butte", "Fjord", "Delta", "Lagoon", "Marsh", "Glen", "Heath", "Moor", "Dale", "Knoll", "Bluff", "Cliff", "Quarry", "Canal", "Ferry", "Pier", "Dock", "Wharf", "Beacon", "Signal", "Pulse", "Rhythm", "Echo", "Vista", "Scope", "Range", "Reach"]

INDUSTRIES = ["Analytics", "Logistics", "Systems", "Software", "Solutions", "Consulting", "Partners", "Labs", "Technologies", "Networks", "Foods", "Health", "Energy", "Capital", "Manufacturing", "Media", "Retail", "Pharma", "Motors", "Textiles", "Robotics", "Security", "Insurance", "Biotech", "Aerospace", "Chemicals", "Construction", "Electronics", "Engineering", "Farms", "Fitness", "Freight", "Hospitality", "Industries", "Interactive", "Marine", "Medical", "Metals", "Mining", "Outfitters", "Packaging", "Plastics", "Publishing", "Realty", "Recycling", "Semiconductors", "Shipping", "Studios", "Telecom", "Therapeutics", "Travel", "Ventures", "Water", "Wireless", "Dynamics", "Instruments", "Data", "Cloud", "Digital", "Devices", "Materials", "Brands"]

# Abbreviations a partner may type instead of the full word.
ABBREVIATIONS = {
    "Technologies": "Tech",
    "Systems": "Sys",
    "Solutions": "Soln",
    "Manufacturing": "Mfg",
    "Engineering": "Eng",
    "Industries": "Ind",
    "Semiconductors": "Semi",
    "Pharma": "Pharmaceuticals",
    "Telecom": "Telecommunications",
    "Insurance": "Ins",
}

# Country -> (weight, legal suffixes, domain suffix, currency).
COUNTRIES = {
    "US": (34, ["Inc", "Inc.", "LLC", "Corp", "Corporation"], "com", "USD"),
    "GB": (10, ["Ltd", "Limited", "PLC"], "co.uk", "GBP"),
    "DE": (9, ["GmbH", "AG", "GmbH & Co. KG"], "de", "EUR"),
    "FR": (7, ["SA", "SAS", "SARL"], "fr", "EUR"),
    "CA": (5, ["Inc", "Ltd", "Corp"], "ca", "USD"),
    "AU": (4, ["Pty Ltd", "Ltd"], "com.au", "USD"),
    "NL": (3, ["BV", "NV"], "nl", "EUR"),
    "JP": (3, ["KK", "Co., Ltd."], "jp", "USD"),
    "IN": (3, ["Pvt Ltd", "Ltd"], "in", "USD"),
    "BR": (3, ["Ltda", "SA"], "com.br", "USD"),
    "ES": (3, ["SL", "SA"], "es", "EUR"),
    "IT": (3, ["SpA", "Srl"], "it", "EUR"),
    "SE": (2, ["AB"], "se", "EUR"),
    "CH": (2, ["AG", "SA", "GmbH"], "ch", "EUR"),
    "SG": (2, ["Pte Ltd"], "sg", "USD"),
    "MX": (2, ["SA de CV"], "mx", "USD"),
    "PL": (1, ["Sp. z o.o.", "SA"], "pl", "EUR"),
    "BE": (1, ["NV", "SA", "BV"], "be", "EUR"),
    "DK": (1, ["ApS", "A/S"], "dk", "EUR"),
    "NO": (1, ["AS", "ASA"], "no", "EUR"),
    "FI": (1, ["Oy", "Oyj"], "fi", "EUR"),
    "IE": (1, ["Ltd", "DAC"], "ie", "EUR"),
}

REGIONS = {
    "US": "NA", "CA": "NA", "MX": "LATAM", "BR": "LATAM", "GB": "EMEA", "DE": "EMEA",
    "FR": "EMEA", "NL": "EMEA", "ES": "EMEA", "IT": "EMEA", "SE": "EMEA", "CH": "EMEA",
    "PL": "EMEA", "BE": "EMEA", "DK": "EMEA", "NO": "EMEA", "FI": "EMEA", "IE": "EMEA",
    "JP": "APAC", "IN": "APAC", "AU": "APAC", "SG": "APAC",
}  # fmt: skip

FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "gmx.de", "icloud.com"]

PARTNER_KINDS = """
IT Services|Solutions|Consulting Group|Cloud Partners|Systems Integration|Managed Services|
Digital|Networks|Advisors|Technology Group|Data Services|Security Partners|Infrastructure|
Software House|Integrators|Resellers|Distribution|Business Systems|Tech Partners|Labs
""".replace("\n", "").split("|")

COMPETENCIES = [
    "cloud", "security", "data", "networking", "erp", "crm", "devops", "ai", "iot", "backup",
]  # fmt: skip

FIRST_NAMES = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason", "Laura", "Edward", "Sharon", "Jeffrey", "Cynthia", "Ryan", "Kathleen", "Jacob", "Amy", "Gary", "Angela", "Nicholas", "Shirley", "Eric", "Anna", "Jonathan", "Brenda", "Stephen", "Pamela", "Larry", "Emma", "Justin", "Nicole", "Scott", "Helen", "Brandon", "Samantha", "Lukas", "Lea", "Finn", "Mia", "Noah", "Hannah", "Elias", "Sophie", "Louis", "Chloe", "Hugo", "Manon", "Luca", "Giulia", "Mateo", "Lucia", "Sven", "Astrid", "Hiroshi", "Yuki", "Arjun", "Priya", "Rafael", "Camila", "Olivia", "Liam", "Aiden", "Zoe", "Ines", "Pablo"]

LAST_NAMES = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Dubois", "Durand", "Lefebvre", "Moreau", "Laurent", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Jansen", "Visser", "Andersson", "Johansson", "Nilsson", "Tanaka", "Suzuki", "Sato", "Patel", "Sharma", "Singh", "Silva", "Santos", "Oliveira", "Kowalski", "Nowak", "Murphy", "Kelly", "OBrien", "Byrne"]

PRODUCT_LINES = [
    ("Platform", ["Starter", "Standard", "Professional", "Enterprise", "Unlimited"]),
    ("Analytics", ["Essentials", "Advanced", "Premium"]),
    ("Security", ["Endpoint", "Network", "Identity", "Cloud", "Email"]),
    ("Backup", ["Basic", "Business", "Datacenter"]),
    ("Support", ["Standard", "Premier", "24x7"]),
    ("Services", ["Onboarding", "Migration", "Training", "Health Check"]),
    ("Storage", ["1 TB", "10 TB", "100 TB"]),
    ("Integration", ["Connector", "API Pack", "Data Sync"]),
]

LOST_REASONS = [
    "Price",
    "Lost to competitor",
    "No budget",
    "No decision",
    "Timing",
    "Product fit",
]

NOTES = [
    "Customer evaluating a three-year term.",
    "Budget approved for next quarter.",
    "Proof of concept scheduled.",
    "Replacing an incumbent solution.",
    "Expansion of an existing deployment.",
    "Referred by the customer's IT director.",
    "Public sector tender.",
]
