"""Small vocabularies the generators sample from by index: names, streets, cities, email domains."""

from __future__ import annotations

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William",
    "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Christopher",
    "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley",
    "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin",
    "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason",
    "Sharon", "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Dorothy", "Jacob", "Amy", "Gary", "Kathleen",
    "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Emma", "Stephen", "Brenda", "Larry", "Pamela", "Justin",
    "Nicole", "Scott", "Anna", "Brandon", "Samantha", "Benjamin", "Katherine", "Samuel", "Christine", "Gregory",
    "Debra", "Alexander", "Rachel", "Patrick", "Carolyn", "Frank", "Janet", "Raymond", "Maria", "Jack", "Olivia",
    "Dennis", "Heather", "Jerry", "Helen", "Tyler", "Catherine", "Aaron", "Diane", "Jose", "Julie", "Adam",
    "Victoria", "Nathan", "Joyce", "Henry", "Lauren", "Zachary", "Kelly", "Douglas", "Christina", "Peter", "Ruth",
    "Kyle", "Joan", "Noah", "Virginia", "Ethan", "Judith", "Jeremy", "Evelyn", "Christian", "Hannah", "Walter",
    "Andrea", "Keith", "Megan", "Austin", "Cheryl", "Roger", "Jacqueline", "Terry", "Madison", "Sean", "Teresa",
    "Gerald", "Abigail", "Carl", "Sophia", "Dylan", "Martha", "Harold", "Sara", "Jordan", "Gloria", "Jesse",
    "Janice", "Bryan", "Kathryn", "Lawrence", "Ann", "Arthur", "Isabella", "Gabriel", "Judy", "Bruce", "Charlotte",
    "Logan", "Julia", "Billy", "Grace", "Joe", "Amber", "Alan", "Alice", "Juan", "Jean", "Elijah", "Denise",
    "Willie", "Frances", "Albert", "Danielle", "Wayne", "Marilyn", "Randy", "Natalie", "Mason", "Beverly",
    "Vincent", "Diana", "Liam", "Brittany", "Roy", "Theresa", "Bobby", "Kayla", "Caleb", "Alexis", "Bradley",
    "Doris", "Russell", "Lori", "Lucas", "Tiffany",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz",
    "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers",
    "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim",
    "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza",
    "Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster",
    "Jimenez", "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson",
    "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton",
    "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson",
    "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison",
    "Fernandez", "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman",
    "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez",
    "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black",
    "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "O'Brien",
    "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne",
    "Grant", "Dunn",
)

STREETS = (
    "Maple", "Oak", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Main", "Sunset", "Highland",
    "Ridge", "Willow", "Meadow", "River", "Forest", "Church", "Spring", "Chestnut", "Walnut", "Lincoln", "Jackson",
    "Franklin", "Jefferson", "Madison", "Adams", "Center", "Union", "Broadway", "Mill", "Valley", "Cherry", "Birch",
    "Dogwood", "Magnolia", "Sycamore", "Hickory", "Aspen", "Laurel", "Poplar", "Spruce", "Juniper", "Holly",
    "Orchard", "Prospect", "Summit", "Fairview", "Greenwood", "Lakeview", "Riverside", "Woodland", "Cottage",
    "Bridge", "Station", "Market", "School", "College", "Academy", "Harbor", "Bay", "Shore", "Canyon", "Mesa",
    "Desert", "Prairie", "Lexington", "Kingston",
)

STREET_SUFFIXES = (
    "Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Boulevard", "Way", "Terrace", "Circle",
    "Parkway",
)

# city, state, ZIP prefix (three digits; the generator appends two)
CITIES = (
    ("New York", "NY", "100"), ("Brooklyn", "NY", "112"), ("Buffalo", "NY", "142"), ("Los Angeles", "CA", "900"),
    ("San Diego", "CA", "921"), ("San Francisco", "CA", "941"), ("Sacramento", "CA", "958"), ("Chicago", "IL", "606"),
    ("Springfield", "IL", "627"), ("Houston", "TX", "770"), ("Dallas", "TX", "752"), ("Austin", "TX", "787"),
    ("San Antonio", "TX", "782"), ("Phoenix", "AZ", "850"), ("Tucson", "AZ", "857"), ("Philadelphia", "PA", "191"),
    ("Pittsburgh", "PA", "152"), ("Jacksonville", "FL", "322"), ("Miami", "FL", "331"), ("Tampa", "FL", "336"),
    ("Orlando", "FL", "328"), ("Columbus", "OH", "432"), ("Cleveland", "OH", "441"), ("Cincinnati", "OH", "452"),
    ("Indianapolis", "IN", "462"), ("Charlotte", "NC", "282"), ("Raleigh", "NC", "276"), ("Seattle", "WA", "981"),
    ("Spokane", "WA", "992"), ("Denver", "CO", "802"), ("Boulder", "CO", "803"), ("Washington", "DC", "200"),
    ("Boston", "MA", "021"), ("Worcester", "MA", "016"), ("Nashville", "TN", "372"), ("Memphis", "TN", "381"),
    ("Detroit", "MI", "482"), ("Ann Arbor", "MI", "481"), ("Portland", "OR", "972"), ("Eugene", "OR", "974"),
    ("Las Vegas", "NV", "891"), ("Reno", "NV", "895"), ("Louisville", "KY", "402"), ("Baltimore", "MD", "212"),
    ("Milwaukee", "WI", "532"), ("Madison", "WI", "537"), ("Albuquerque", "NM", "871"), ("Atlanta", "GA", "303"),
    ("Savannah", "GA", "314"), ("Kansas City", "MO", "641"), ("St. Louis", "MO", "631"), ("Omaha", "NE", "681"),
    ("Minneapolis", "MN", "554"), ("Saint Paul", "MN", "551"), ("New Orleans", "LA", "701"), ("Salt Lake City", "UT",
    "841"), ("Richmond", "VA", "232"), ("Norfolk", "VA", "235"), ("Providence", "RI", "029"), ("Hartford", "CT",
    "061"), ("Newark", "NJ", "071"), ("Jersey City", "NJ", "073"), ("Birmingham", "AL", "352"), ("Boise", "ID",
    "837"), ("Des Moines", "IA", "503"), ("Little Rock", "AR", "722"), ("Oklahoma City", "OK", "731"),
    ("Honolulu", "HI", "968"), ("Anchorage", "AK", "995"), ("Burlington", "VT", "054"), ("Portland", "ME", "041"),
)

EMAIL_DOMAINS = (
    "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "protonmail.com",
    "mail.com", "comcast.net", "me.com",
)
EMAIL_DOMAIN_WEIGHTS = (40, 14, 10, 10, 9, 5, 3, 3, 3, 3)
