"""Make the retrieval benchmark's datasets (bench/retrieval.py), deterministically, with no network.

    .venv/bin/python bench/data/make_datasets.py

Three datasets, each a gzipped JSON file in this folder holding its texts and its queries, every
query with its gold evidence. An evidence item is a list of ids any one of which answers it; a
multi-hop query has two items. Questions are phrased unlike their answers on purpose: synonyms,
names, dates relative to a stated "now", identifiers among look-alikes.

- conversation.json.gz: recall memory. Five months of daily chats between Maya and her agent
  (messages with timestamps). Asked: what she said about a person (by name, or by relation, which
  needs the message that says who the person is: multi-hop), what was decided about a recurring
  topic on a given day ("last Tuesday", "yesterday", "on March 3"), bookings by their reference.
- records.json.gz: archival memory of a shop's support agent: orders, tickets, error codes,
  releases and SKUs whose identifiers differ by one character; asked by identifier or by a
  paraphrase of what the record says.
- manuals.json.gz and manuals/*.pdf: product manuals as PDFs, ingested by the benchmark through
  the product's own pipeline. Evidence is (file, page, span): the passages of that page holding
  the span, as the pipeline chunked them.

The same seed gives the same files, byte for byte.
"""

import gzip
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 2310


def write(name: str, data: dict) -> None:
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True).encode()
    with open(HERE / name, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as out:  # mtime=0: same bytes each time
        out.write(raw)
    print(f"{name}: {len(data['texts']):,} texts, {len(data['queries']):,} queries")


# --- 1. conversation: recall memory -------------------------------------------------------------

NOW = datetime(2025, 6, 18, 18, 0, tzinfo=timezone.utc)  # a Wednesday
FIRST_DAY = datetime(2025, 1, 13, tzinfo=timezone.utc)

PEOPLE = [("Elena", "sister"), ("Jonas", "brother-in-law"), ("Priya", "coworker"), ("Tomasz", "neighbour"),
          ("Aiko", "best friend"), ("Marcus", "boss"), ("Ines", "cousin"), ("Dmitri", "landlord"),
          ("Fatima", "yoga teacher"), ("Oskar", "nephew"), ("Lucia", "aunt"), ("Kwame", "old roommate"),
          ("Sophie", "manager's assistant"), ("Rafael", "dentist"), ("Hannah", "piano teacher"),
          ("Youssef", "climbing partner"), ("Greta", "grandmother"), ("Nikhil", "team lead"),
          ("Beatriz", "hairdresser"), ("Callum", "brother"), ("Mei", "university friend"), ("Arjun", "accountant"),
          ("Olga", "downstairs neighbour"), ("Theo", "godson"), ("Zainab", "mentor"), ("Pablo", "gardener"),
          ("Ingrid", "mother-in-law"), ("Kofi", "running buddy"), ("Valentina", "niece"), ("Hugo", "uncle"),
          ("Leila", "therapist"), ("Sven", "former boss"), ("Amara", "book club friend"), ("Ravi", "plumber"),
          ("Chloe", "stepsister"), ("Emeka", "colleague from marketing"), ("Noor", "childhood friend"),
          ("Bruno", "personal trainer"), ("Yuki", "language exchange partner"), ("Matteo", "father-in-law")]

# (what Maya says, how the question asks it): the question avoids the statement's words where it can
FACTS = [
    ("{name} adopted a {x} from the shelter.", "What animal did {who} bring home?",
     ["greyhound", "tabby cat", "border collie", "rabbit", "parrot", "beagle", "ginger kitten", "tortoise"]),
    ("{name} is moving to {x} in the autumn.", "Which city is {who} relocating to?",
     ["Porto", "Lyon", "Gdansk", "Valencia", "Tallinn", "Bologna", "Ghent", "Aarhus", "Bilbao", "Graz"]),
    ("{name} started a new job at {x}.", "Who is {who}'s employer now?",
     ["a solar startup", "the city library", "a law firm", "the children's hospital", "a video game studio",
      "the botanical garden", "an insurance company", "a bakery chain"]),
    ("{name} broke {x} skiing in the Alps.", "What injury did {who} get on the slopes?",
     ["a wrist", "an ankle", "two ribs", "a collarbone", "a finger", "a thumb"]),
    ("{name} can't eat {x}, it gives them hives.", "What is {who} allergic to?",
     ["shellfish", "peanuts", "strawberries", "sesame", "kiwi", "eggs", "walnuts", "mustard"]),
    ("{name} told me to read {x}.", "Which book did {who} recommend?",
     ["Piranesi", "The Overstory", "Middlemarch", "Klara and the Sun", "Stoner", "The Remains of the Day",
      "Pachinko", "Circe"]),
    ("I borrowed {x} euros from {name} for the car repair.", "How much money do I owe {who}?",
     ["120", "250", "75", "400", "180", "90", "310", "60"]),
    ("{name} is training for {x}.", "What race or event is {who} preparing for?",
     ["the Berlin marathon", "a half ironman", "a 10k trail run", "a cycling sportive", "an open water swim",
      "a climbing competition"]),
    ("{name} just got engaged to {x}.", "Who is {who} going to marry?",
     ["Sam", "Luca", "Nadia", "Erik", "Julia", "Omar", "Clara", "Finn"]),
    ("{name} is learning to play the {x}.", "Which instrument has {who} taken up?",
     ["cello", "ukulele", "saxophone", "harp", "drums", "banjo", "accordion", "flute"]),
    ("{name} had surgery on {x} last week, recovery is slow.", "What operation did {who} have?",
     ["her knee", "his shoulder", "a hernia", "her appendix", "his back", "a cataract"]),
    ("{name} got a puppy and named it {x}.", "What is the name of {who}'s dog?",
     ["Biscuit", "Pepper", "Mochi", "Rufus", "Olive", "Waffles", "Juniper", "Bruno"]),
    ("{name} wants me to water the plants while they are in {x}.", "Where is {who} travelling?",
     ["Japan", "Morocco", "Iceland", "Peru", "Vietnam", "Norway", "Mexico", "Greece"]),
    ("{name} is selling their old {x}.", "What is {who} trying to get rid of?",
     ["piano", "campervan", "road bike", "sofa", "espresso machine", "sailboat", "drum kit"]),
]

TOPICS = [  # (what Maya calls it, how a question may call it, the choices)
    ("the kitchen paint", "the colour for the kitchen walls",
     ["sage green", "off-white", "terracotta", "navy blue", "pale yellow", "charcoal grey"]),
    ("our summer trip", "where we go on holiday this summer",
     ["Sardinia", "the Dolomites", "Crete", "the Scottish Highlands", "Brittany", "Slovenia"]),
    ("the new laptop", "which computer to buy",
     ["the ThinkPad X1", "the MacBook Air", "the Framework 13", "the Dell XPS", "the Surface Laptop"]),
    ("the budget app", "how to track spending",
     ["YNAB", "a plain spreadsheet", "Monarch", "the bank's own app", "a paper notebook"]),
    ("the birthday dinner", "where to celebrate my birthday",
     ["the Lebanese place", "the sushi bar on Rue Verte", "a picnic in the park", "dinner at home", "the rooftop tapas bar"]),
    ("Oskar's present", "the gift for my nephew",
     ["a telescope", "a Lego set", "a skateboard", "a chemistry kit", "concert tickets"]),
    ("the gym membership", "the place I work out",
     ["the climbing gym", "the municipal pool", "the 24-hour gym", "a yoga studio", "no gym, running outside"]),
    ("the car", "what to do about the old Golf",
     ["sell it", "repair the gearbox", "trade it in for an electric", "keep it one more year", "give it to Callum"]),
    ("the book club pick", "what the reading group reads next",
     ["Piranesi", "Pachinko", "Stoner", "Circe", "The Overstory"]),
    ("the sofa", "the new couch for the living room",
     ["the green velvet one", "the grey modular one", "the leather one from the flea market", "a sofa bed"]),
    ("the wedding outfit", "what I wear to Chloe's wedding",
     ["the blue suit", "the linen dress", "the rented tuxedo", "the green jumpsuit"]),
    ("the Spanish course", "how I learn Spanish",
     ["evening classes", "Duolingo only", "a private tutor", "the tandem with Yuki", "an immersion week in Seville"]),
    ("the balcony plants", "what grows on the balcony",
     ["tomatoes", "herbs only", "lavender", "chillies", "strawberries"]),
    ("the weekend plan", "what we do on Saturday",
     ["a hike to the lake", "the flea market", "a cinema night", "visiting Greta", "staying in"]),
    ("the meal plan", "what we eat on weeknights",
     ["batch cooking on Sundays", "vegetarian weekdays", "a meal kit", "one new recipe a week"]),
    ("the internet provider", "who supplies our broadband",
     ["Fibrelink", "the cable company", "a 5G router", "staying with the current one"]),
    ("the bathroom tiles", "the tiling for the bathroom",
     ["white metro tiles", "green zellige", "terrazzo", "large grey slabs"]),
    ("the cat sitter", "who looks after the cat when we're away",
     ["Olga downstairs", "the agency", "Theo", "a boarding cattery"]),
    ("the conference talk", "what I present at the conference",
     ["the caching story", "a talk on onboarding", "a lightning talk only", "no talk this year"]),
    ("the savings plan", "what to do with the bonus",
     ["an index fund", "pay down the mortgage", "a high-interest account", "the kitchen renovation"]),
]

DECIDE = ["Okay, final answer on {topic}: {x}.", "Let's go with {x} for {topic}.",
          "I've made up my mind about {topic}, {x} it is.", "Decision on {topic}: {x}. No more going back and forth.",
          "After sleeping on it: {topic} will be {x}."]
DATE_ASK = ["What did we decide about {topic} {when}?", "What was settled regarding {topic_q} {when}?",
            "{When}, what did I pick for {topic_q}?", "Remind me what we chose for {topic} {when}."]
BOOKINGS = [("flight to {city}", "plane ticket to {city}", "LX"), ("hotel in {city}", "place I'm staying in {city}", "HB"),
            ("train to {city}", "rail trip to {city}", "TR"), ("car rental in {city}", "hire car in {city}", "CR")]
CITIES = ["Porto", "Lyon", "Gdansk", "Valencia", "Tallinn", "Bologna", "Ghent", "Aarhus", "Bilbao", "Graz", "Seville",
          "Krakow", "Bruges", "Nantes", "Turin", "Salzburg"]
REPLIES = ["Good to know, I'll keep that in mind.", "Thanks for telling me.", "Noted.", "Got it.",
           "I'll remember that.", "That's worth remembering.", "Okay!", "Understood."]
FILLER = ["Morning! Slept badly again.", "The weather is awful today.", "Work was a lot today.",
          "I'm making pasta tonight.", "Can you remind me to call {name} this weekend?", "I keep thinking about {topic}.",
          "Still undecided on {topic}, let's talk later.", "{name} says hi.", "I saw {name} at the market today.",
          "Not much news, just tired.", "Finally finished that report.", "What a long week.",
          "I went for a run by the river.", "Do you think {name} would like a postcard?",
          "Any thoughts on {topic}? No need to decide yet.", "Had coffee with {name}, nothing special.",
          "Watching a documentary about octopuses.", "The train was late again."]
FILLER_REPLIES = ["How are you feeling?", "Sounds like a day.", "Want to talk it through?", "I'm here if you need me.",
                  "That sounds nice.", "Let's come back to it whenever you like.", "Take it easy tonight."]


def when_phrase(day: datetime, rng: random.Random) -> str:
    """How Maya says a past day, seen from NOW."""
    days = (NOW.date() - day.date()).days
    weekday = day.strftime("%A")
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"last {weekday}"
    if days < 14:
        return rng.choice([f"{weekday} last week", f"{weekday} the week before", f"{days} days ago"])
    return rng.choice([f"on {day.strftime('%B')} {day.day}", f"on {day.day} {day.strftime('%B')}",
                       f"on {weekday} {day.strftime('%B')} {day.day}"])


def conversation(rng: random.Random) -> dict:
    texts, queries = [], []
    days = [FIRST_DAY + timedelta(days=n) for n in range((NOW - FIRST_DAY).days + 1)]
    events: dict[datetime, list] = {day: [] for day in days}

    def free_day(about: str, after: datetime = FIRST_DAY, recent: bool = False) -> datetime:
        """A day before today when nothing else was said about `about` (so a date names one message)."""
        while True:
            day = rng.choice(days[-22:-1] if recent else days[:-1])
            if day > after and all(e[1] != about for e in events[day]):
                return day

    for name, relation in PEOPLE:  # who is who, told once, early on; facts about them come later
        introduced = rng.choice(days[:30])
        events[introduced].append(("intro", name, relation))
        for template, question, values in FACTS:
            events[free_day(name, after=introduced)].append(("fact", name, template, question, rng.choice(values)))
    for topic, topic_q, choices in TOPICS:  # topics come back again and again: minds change
        for n in range(20):
            events[free_day(topic, recent=n < 4)].append(("decision", topic, topic_q, rng.choice(choices)))
    numbers = [str(rng.randint(1000, 9999)) for _ in range(12)]  # few numbers: references one letter apart
    for what, what_q, prefix in BOOKINGS:
        for city in CITIES:
            reference = prefix + rng.choice(numbers) + rng.choice("ABCDEFGHJK")
            while any(e[1] == reference for day in days for e in events[day]):
                reference = prefix + rng.choice(numbers) + rng.choice("ABCDEFGHJK")
            events[free_day(reference)].append(("booking", reference, what.format(city=city), what_q.format(city=city)))

    introductions: dict[str, str] = {}
    for day in days:
        todays = events[day] + ["chat"] * rng.randint(3, 9)
        rng.shuffle(todays)
        at = day + timedelta(hours=rng.randint(7, 15 if day.date() == NOW.date() else 20), minutes=rng.randint(0, 59))

        def say(role: str, text: str) -> str:
            nonlocal at
            message_id = f"m{len(texts)}"
            texts.append({"id": message_id, "text": text, "role": role, "created_at": at.isoformat()})
            at += timedelta(minutes=rng.randint(1, 4))
            return message_id

        for event in todays:
            if event == "chat":
                # about someone else than today's news, so that "what did I tell you about X" has one answer
                name = rng.choice([name for name, _ in PEOPLE if all(e[1] != name for e in events[day])])
                say("user", rng.choice(FILLER).format(name=name, topic=rng.choice(TOPICS)[0]))
                say("assistant", rng.choice(FILLER_REPLIES))
                continue
            kind, about, *rest = event
            if kind == "intro":
                [relation] = rest
                introductions[about] = say("user", rng.choice(["By the way, {name} is my {relation}.",
                                                               "You haven't met {name} yet: my {relation}.",
                                                               "{name}, my {relation}, will come up a lot."]).format(
                    name=about, relation=relation))
            elif kind == "fact":
                template, question, value = rest
                said = say("user", template.format(name=about, x=value))
                relation = dict(PEOPLE)[about]
                queries.append({"query": question.format(who=about), "kind": "name", "evidence": [[said]]})
                queries.append({"query": question.format(who=f"my {relation}"), "kind": "multi-hop",
                                "evidence": [[said], [introductions[about]]]})
                queries.append({"query": f"What did I tell you about {about} {when_phrase(day, rng)}?",
                                "kind": "date", "evidence": [[said]]})
            elif kind == "decision":
                topic_q, value = rest
                said = say("user", rng.choice(DECIDE).format(topic=about, x=value))
                when = when_phrase(day, rng)
                queries.append({"query": rng.choice(DATE_ASK).format(topic=about, topic_q=topic_q, when=when,
                                                                     When=when[0].upper() + when[1:]),
                                "kind": "date", "evidence": [[said]]})
            else:
                what, what_q = rest
                said = say("user", f"The {what} is booked, reference {about}.")
                queries.append({"query": f"What was booking {about} for?", "kind": "identifier", "evidence": [[said]]})
                queries.append({"query": f"What's the confirmation code of my {what_q}?", "kind": "paraphrase",
                                "evidence": [[said]]})
            say("assistant", rng.choice(REPLIES))
    for n, query in enumerate(queries):
        query["id"] = f"q{n}"
    return {"kind": "recall", "now": NOW.isoformat(), "texts": texts, "queries": queries}


# --- 2. records: archival memory with identifiers among look-alikes ---------------------------------

CUSTOMERS = ["Anna Kowalski", "Ben Okafor", "Carla Mendes", "David Lindqvist", "Eva Novak", "Farid Haddad",
             "Grace Liu", "Henrik Berg", "Isabel Ortega", "Jamal Wright", "Katrin Vogel", "Leo Marchetti",
             "Maria Santos", "Nils Eriksen", "Olivia Brennan", "Pavel Horak", "Quinn Adebayo", "Rosa Jimenez",
             "Stefan Kraus", "Tara Singh", "Umar Sheikh", "Vera Petrova", "William Chen", "Xenia Popa",
             "Yusuf Demir", "Zoe Laurent", "Adam Fischer", "Bianca Rossi", "Cyril Dubois", "Dana Cohen"]
PLACES = ["Leeds", "Utrecht", "Lille", "Bremen", "Cork", "Gothenburg", "Brno", "Malaga", "Antwerp", "Turin"]
PRODUCTS = [("KT", "electric kettle"), ("TS", "toaster"), ("BL", "blender"), ("CM", "coffee grinder"),
            ("LP", "desk lamp"), ("FN", "tower fan"), ("HD", "hair dryer"), ("VC", "hand vacuum"),
            ("SC", "kitchen scale"), ("HM", "hand mixer")]
COLOURS = [("BLK", "black"), ("BLU", "blue"), ("WHT", "white"), ("RED", "red"), ("GRN", "green"), ("SLV", "silver")]
STATUSES = ["shipped", "delivered", "refunded", "on hold", "awaiting stock", "cancelled", "returned"]
NOTES = [  # what the record says, how someone asks about it
    ("Customer asked to leave the parcel with the neighbour at number 12.", "handed to the people next door"),
    ("Box arrived crushed, customer sent photos.", "delivered in a damaged package"),
    ("Paid twice by mistake, one charge reversed.", "double billed"),
    ("Gift wrapping requested, with a card saying happy retirement.", "wrapped as a present for someone leaving work"),
    ("Courier could not find the address, returned to depot.", "the driver got lost"),
    ("Wrong colour sent, exchange arranged.", "the shade was not the one ordered"),
    ("Customer wants an invoice with VAT number for the company.", "needed a tax receipt for a business"),
    ("Delivery moved to Saturday morning at customer's request.", "rescheduled for the weekend"),
    ("Plug was UK type instead of EU type, replacement sent.", "came with the wrong mains connector"),
    ("Discount code SPRING10 applied manually after checkout failed.", "coupon added by hand"),
    ("Item missing from the box, only the manual was inside.", "arrived empty apart from the paperwork"),
    ("Customer cancelled because delivery took three weeks.", "called off over the slow shipping"),
    ("Address changed to the office on Harbour Street.", "sent to a workplace instead of home"),
    ("Left at the pickup locker in the train station.", "collected from a parcel machine"),
    ("Customer reported a burning smell on first use.", "smelled of smoke the first time it was switched on"),
    ("Refund issued to store credit, not to the card.", "money returned as a voucher"),
    ("Express shipping upgraded for free after a complaint.", "sent faster at no charge"),
    ("Order split into two parcels because of stock.", "delivered in separate shipments"),
]
PROBLEMS = [
    ("the checkout page times out after a coupon is applied", "payment hangs when a discount code is used"),
    ("password reset emails never arrive", "cannot get the link to recover the account"),
    ("the app crashes when the camera opens", "the mobile app closes itself while scanning"),
    ("invoices show the wrong currency", "bills in dollars instead of euros"),
    ("tracking number shows another person's parcel", "sees a stranger's delivery when tracking"),
    ("two-factor codes are rejected as expired", "login verification numbers do not work"),
    ("the newsletter unsubscribe link returns an error", "cannot stop the marketing emails"),
    ("loyalty points disappeared after the last order", "reward balance went to zero"),
    ("product photos do not load on the tablet", "pictures are blank on an iPad"),
    ("the delivery slot picker shows no free days", "no dates offered for delivery"),
    ("gift card balance is charged twice", "voucher was debited two times"),
    ("the search returns kettles when looking for toasters", "finding the wrong appliance in search results"),
    ("the address form refuses postcodes with a space", "cannot enter a postal code"),
    ("order confirmation is in German instead of English", "receipt came in the wrong language"),
    ("the chat widget covers the pay button", "a pop-up hides the button to complete the purchase"),
    ("account was locked after one wrong password", "shut out of the profile too quickly"),
    ("return label prints blank", "the shipping sticker for sending back comes out empty"),
    ("prices change when the page is refreshed", "the cost jumps around on reload"),
    ("wishlist items vanish after logging out", "saved favourites are lost"),
    ("the warranty registration form rejects the serial number", "cannot register the guarantee"),
]
STAFF = ["Lena", "Mario", "Sophie", "Tariq", "Ulla", "Viktor", "Wen", "Yara"]
RESOLUTIONS = ["fixed in the next release", "workaround sent by email", "refund granted", "escalated to engineering",
               "closed as duplicate", "could not reproduce", "customer confirmed it works now"]
SERVICES = ["payments-api", "checkout-web", "inventory-sync", "mailer", "search-indexer", "auth-service", "tax-engine",
            "media-resizer", "shipping-gateway", "loyalty-ledger", "catalog-importer", "session-proxy"]
MEANINGS = [
    ("the upstream bank gateway did not answer within 30 seconds", "the card processor was too slow to respond"),
    ("the stock count went negative after concurrent orders", "we sold more units than we had"),
    ("the signing key for tokens has expired", "the credential used to sign logins is out of date"),
    ("the SMTP relay refused the connection", "outgoing mail server said no"),
    ("the index is larger than the disk quota", "ran out of storage space for the search data"),
    ("a webhook payload failed signature verification", "incoming callback could not be authenticated"),
    ("the currency rate feed is more than a day old", "exchange rates are stale"),
    ("a product references a category that was deleted", "an item points at a section that no longer exists"),
    ("the database connection pool is exhausted", "no free connections to the database"),
    ("the tax rule for the destination country is missing", "no VAT setting for that country"),
    ("the image resizer ran out of memory", "thumbnail generation crashed for lack of RAM"),
    ("a duplicate order number was generated", "two purchases got the same number"),
    ("the rate limit of the shipping API was hit", "too many calls to the courier service"),
    ("the session cookie was too large for the proxy", "the browser cookie exceeded the size limit"),
    ("the CSV import had an unknown column", "the spreadsheet upload had an unexpected field"),
]
FIXES = ["restart the worker", "rotate the key", "raise the timeout", "re-run the nightly job", "clear the cache",
         "roll back to the previous version", "contact the provider"]
CHANGES = [
    ("adds Apple Pay at checkout", "a new way to pay with an iPhone"),
    ("fixes rounding of prices with three decimals", "cents were calculated wrongly"),
    ("drops support for Internet Explorer 11", "the old Microsoft browser no longer works"),
    ("speeds up the product search by caching queries", "finding items got faster"),
    ("adds a dark mode to the customer portal", "a night-time colour scheme"),
    ("lets customers split a payment across two cards", "paying with more than one card"),
    ("encrypts stored addresses at rest", "delivery details are now protected on disk"),
    ("adds Polish and Czech translations", "two more Central European languages"),
    ("removes the legacy XML export", "the old data download format is gone"),
    ("limits login attempts to five per minute", "brute force protection on sign in"),
    ("shows estimated delivery dates on product pages", "when the parcel will arrive is displayed before buying"),
    ("fixes a memory leak in the image uploader", "uploading pictures no longer eats RAM"),
]
APPS = ["Storefront", "Courier Bridge", "Admin Console", "Mobile Shop", "Partner Portal", "Returns Desk",
        "Warehouse Scanner", "Price Engine", "Gift Card Hub", "Reviews Widget"]


def lookalike(rng: random.Random, pool: list[str], make) -> str:
    """A new identifier, often one character away from one already in `pool`."""
    if pool and rng.random() < 0.7:
        base = list(rng.choice(pool))
        positions = [i for i, c in enumerate(base) if c.isalnum()]
        i = rng.choice(positions)
        base[i] = rng.choice("0123456789" if base[i].isdigit() else "ABCDEFGHJKLMNPRSTUVWXYZ")
        candidate = "".join(base)
    else:
        candidate = make()
    return candidate if candidate not in pool else lookalike(rng, pool, make)


def records(rng: random.Random) -> dict:
    texts, queries = [], []

    def record(text: str) -> str:
        record_id = f"r{len(texts)}"
        texts.append({"id": record_id, "text": text})
        return record_id

    def ask(query: str, kind: str, answers: str | list[str]) -> None:
        """One evidence item: any of `answers` holds it."""
        answers = [answers] if isinstance(answers, str) else answers
        queries.append({"id": f"q{len(queries)}", "query": query, "kind": kind, "evidence": [answers]})

    skus: list[str] = []
    for _ in range(900):
        code, product = rng.choice(PRODUCTS)
        colour_code, colour = rng.choice(COLOURS)
        sku = lookalike(rng, skus, lambda: f"{code}-{rng.randint(100, 999)}-{colour_code}")
        skus.append(sku)
        stock, price = rng.randint(0, 400), rng.randint(19, 189)
        said = record(f"SKU {sku}: {product}, {colour}, {price}.99 EUR; {stock} in stock at the {rng.choice(PLACES)} "
                      f"warehouse.")
        if rng.random() < 0.45:
            ask(rng.choice([f"How many units of {sku} do we have?", f"What does {sku} cost?",
                            f"Which product is {sku}?"]), "identifier", said)

    orders: list[str] = []
    seen: dict = {}
    for _ in range(1500):
        number = lookalike(rng, orders, lambda: f"ORD-{rng.randint(10000, 99999)}-{rng.choice('ABCDEFGHJK')}")
        orders.append(number)
        customer, note = rng.choice(CUSTOMERS), rng.choice(NOTES)
        said = record(f"Order {number} for {customer} ({rng.choice(PLACES)}): {rng.randint(1, 4)} x {rng.choice(skus)}, "
                      f"placed {rng.randint(1, 28)} {rng.choice(['March', 'April', 'May'])}. "
                      f"Status: {rng.choice(STATUSES)}. {note[0]}")
        seen.setdefault((customer, note), []).append(said)
        if rng.random() < 0.35:
            ask(rng.choice([f"What's the status of order {number}?", f"Who placed {number}?",
                            f"Which item is in order {number}?"]), "identifier", said)
    for (customer, note), ids in seen.items():  # a pair seen twice would make its question ambiguous
        if len(ids) <= 2:  # either one answers; more would make the question vague
            ask(f"Which order of {customer} was {note[1]}?", "paraphrase", ids)

    tickets: list[str] = []
    seen = {}
    for _ in range(1200):
        number = lookalike(rng, tickets, lambda: f"INC-{rng.randint(10000, 99999)}")
        tickets.append(number)
        customer, problem = rng.choice(CUSTOMERS), rng.choice(PROBLEMS)
        said = record(f"Ticket {number} from {customer}: {problem[0]}. Handled by {rng.choice(STAFF)}; "
                      f"{rng.choice(RESOLUTIONS)}.")
        seen.setdefault((customer, problem), []).append(said)
        if rng.random() < 0.35:
            ask(rng.choice([f"Who opened ticket {number}?", f"How was {number} resolved?",
                            f"What was {number} about?"]), "identifier", said)
    for (customer, problem), ids in seen.items():
        if len(ids) <= 2:  # either one answers; more would make the question vague
            ask(f"Did {customer} contact us because {problem[1]}?", "paraphrase", ids)

    codes: list[str] = []
    seen = {}
    for _ in range(300):
        code = lookalike(rng, codes, lambda: f"E{rng.randint(1000, 9999)}")
        codes.append(code)
        service, meaning = rng.choice(SERVICES), rng.choice(MEANINGS)
        said = record(f"Error {code} in {service}: {meaning[0]}. Fix: {rng.choice(FIXES)}.")
        seen.setdefault((service, meaning), []).append(said)
        if rng.random() < 0.5:
            ask(rng.choice([f"What does {code} mean?", f"How do I fix error {code}?"]), "identifier", said)
    for (service, meaning), ids in seen.items():
        if len(ids) <= 2:  # either one answers; more would make the question vague
            ask(f"Which error code does {service} raise when {meaning[1]}?", "paraphrase", ids)

    versions: list[str] = []
    seen = {}
    for _ in range(200):
        app, change = rng.choice(APPS), rng.choice(CHANGES)
        version = lookalike(rng, versions, lambda: f"{rng.randint(1, 9)}.{rng.randint(0, 19)}.{rng.randint(0, 9)}")
        versions.append(version)
        said = record(f"{app} {version} (released {rng.randint(1, 28)} {rng.choice(['January', 'February', 'March'])}):"
                      f" {change[0]}.")
        seen.setdefault((app, change), []).append(said)
        if rng.random() < 0.4:
            ask(f"What changed in {app} {version}?", "identifier", said)
    for (app, change), ids in seen.items():
        if len(ids) <= 2:  # either one answers; more would make the question vague
            ask(f"In which {app} version did {change[1]} arrive?", "paraphrase", ids)
    for n, query in enumerate(queries):
        query["id"] = f"q{n}"
    return {"kind": "archival", "texts": texts, "queries": queries}


# --- 3. manuals: documents from PDFs --------------------------------------------------------------

FAMILIES = [  # one PDF each: (file, title, model names one character or digit apart)
    ("aquapure-pumps.pdf", "AquaPure pumps: service manual", ["AquaPure 300", "AquaPure 310", "AquaPure 300X",
                                                             "AquaPure 380", "AquaPure 30", "AquaPure 3100"]),
    ("heatwave-boilers.pdf", "Heatwave boilers: installation and maintenance", ["Heatwave HX-20", "Heatwave HX-24",
                                                                               "Heatwave HX-20S", "Heatwave HX-28",
                                                                               "Heatwave HZ-20", "Heatwave HX-2"]),
    ("vento-ventilation.pdf", "Vento ventilation units: technical handbook", ["Vento V5", "Vento V5 Pro", "Vento V6",
                                                                             "Vento V50", "Vento V5e", "Vento V8"]),
    ("solis-inverters.pdf", "Solis inverters: operating instructions", ["Solis S3-4K", "Solis S3-5K", "Solis S3-4KT",
                                                                       "Solis S4-4K", "Solis S3-6K", "Solis S3-4K Plus"]),
    ("frostline-chillers.pdf", "Frostline chillers: field service guide", ["Frostline C120", "Frostline C125",
                                                                          "Frostline C120i", "Frostline C210",
                                                                          "Frostline C12", "Frostline C150"]),
    ("meridian-compressors.pdf", "Meridian compressors: maintenance report", ["Meridian MC-7", "Meridian MC-7B",
                                                                             "Meridian MC-8", "Meridian MC-17",
                                                                             "Meridian MK-7", "Meridian MC-70"]),
]
COMPONENTS = [  # (the manual's word, a user's word)
    ("pre-filter cartridge", "coarse strainer"), ("drive belt", "rubber band that turns the fan"),
    ("carbon brushes", "motor contacts"), ("impeller", "spinning blade wheel"), ("door gasket", "rubber seal"),
    ("air intake filter", "dust screen"), ("expansion vessel", "pressure tank"), ("anode rod", "corrosion protector"),
    ("condensate trap", "drip collector"), ("cooling fan", "ventilator"), ("pressure relief valve", "safety valve"),
    ("backup battery", "standby cell"), ("UV lamp", "ultraviolet bulb"), ("oil separator", "lubricant splitter"),
    ("ignition electrode", "spark igniter"), ("heat exchanger fins", "radiator plates"),
    ("bearing grease", "lubrication of the bearings"), ("surge arrester", "lightning protection"),
    ("thermocouple", "temperature sensor"), ("check valve", "one-way valve"),
]
INTERVALS = ["every 3 months", "every 6 months", "every 12 months", "every 500 operating hours",
             "every 1,000 operating hours", "every 2 years", "every 2,000 operating hours", "every 90 days"]
SPECS = [  # (the manual's words, a user's words, values)
    ("rated power", "how much electricity does it draw at full load", ["750 W", "1.1 kW", "2.2 kW", "3 kW", "4.5 kW"]),
    ("maximum operating pressure", "what is the highest pressure it can take", ["6 bar", "8 bar", "10 bar", "16 bar"]),
    ("sound pressure level at 1 m", "how loud is it", ["38 dB(A)", "42 dB(A)", "47 dB(A)", "55 dB(A)"]),
    ("net weight", "how heavy is it", ["12 kg", "18.5 kg", "24 kg", "31 kg", "46 kg"]),
    ("ambient temperature range", "how cold or hot may the room be", ["-10 to 40 C", "0 to 35 C", "-25 to 50 C"]),
    ("ingress protection rating", "how well is it sealed against water and dust", ["IP44", "IP54", "IP65", "IP67"]),
    ("supply voltage", "which mains does it need", ["230 V single phase", "400 V three phase", "115 V single phase"]),
    ("maximum flow rate", "how much does it move per hour at most", ["2.5 m3/h", "4 m3/h", "6.3 m3/h", "9 m3/h"]),
    ("refrigerant charge", "how much coolant does it hold", ["0.8 kg R32", "1.2 kg R290", "2.1 kg R410A"]),
    ("warranty period", "how long does the guarantee last", ["2 years", "3 years", "5 years", "7 years"]),
    ("minimum clearance at the rear", "how much space does it need behind it", ["10 cm", "15 cm", "30 cm", "50 cm"]),
    ("fuse rating", "which breaker size should I use", ["10 A", "16 A", "20 A", "25 A"]),
]
FAULTS = [  # (what the manual says, how a user describes it)
    ("the flow sensor reports no water movement", "nothing is flowing through it"),
    ("the motor winding has overheated", "the engine got too hot"),
    ("supply voltage dropped below 190 V", "the mains power sagged"),
    ("the pressure switch did not close within 20 seconds", "pressure never built up"),
    ("communication with the display board was lost", "the screen stopped talking to the controller"),
    ("the flame was not detected after three ignition attempts", "it would not light"),
    ("the outdoor temperature sensor is disconnected", "the outside thermometer is unplugged"),
    ("the condensate pump is blocked", "water is not being pumped away"),
    ("insulation resistance to earth is too low", "there is a leak of current to ground"),
    ("the fan speed is below 50 percent of setpoint", "the blower is turning too slowly"),
    ("the EEPROM checksum is invalid", "the stored settings are corrupted"),
    ("the discharge temperature exceeded 110 C", "the outlet got far too hot"),
]
PARTS = [("mounting bracket", "wall holder"), ("pump housing", "casing of the pump"), ("terminal block", "wiring connector"),
         ("flange", "pipe joint"), ("motor base", "engine mount"), ("fan hub", "centre of the fan"),
         ("cover plate", "front panel")]
SAFETY = ["Disconnect the mains supply before opening the unit.", "Only qualified personnel may carry out this work.",
          "Wear gloves: edges inside the housing are sharp.", "Keep this manual near the unit for later reference.",
          "Use original spare parts only; others void the warranty.", "Let the unit cool for 30 minutes first."]


# sentences that name a model and a component, spec or part without answering anything about it:
# the look-alike prose a question must be told apart from
AROUND = [
    "The {thing} of the {model} sits behind the front panel; two screws hold the panel.",
    "Inspect the {thing} of the {model} for cracks, wear and discolouration at every visit.",
    "A worn {thing} on the {model} may cause noise, vibration or a drop in performance.",
    "Order a new {thing} for the {model} from an authorised dealer, quoting the serial number.",
    "When the {thing} of the {model} is handled, keep it clean and dry.",
    "The {thing} of the {model} was redesigned in the second production series.",
    "Record any work on the {thing} of the {model} in the service log.",
    "See the exploded view in the appendix for the {thing} of the {model}.",
]


def manual_facts(model: str, rng: random.Random) -> list[tuple[str, list[tuple[str, str]], str]]:
    """(sentence, [(question, kind)], what it is about) for one model, each sentence naming the model."""
    facts = []
    for (component, user_word), interval in zip(COMPONENTS, rng.choices(INTERVALS, k=len(COMPONENTS))):
        facts.append((f"On the {model}, replace the {component} {interval}.",
                      [(f"How often should the {user_word} of the {model} be swapped out?", "paraphrase")], component))
    for spec, user_words, values in SPECS:
        facts.append((f"The {spec} of the {model} is {rng.choice(values)}.",
                      [(f"For the {model}, {user_words}?", "paraphrase")], spec))
    codes = rng.sample([f"F{n:02d}" for n in range(1, 100)], len(FAULTS))
    for code, (meaning, user_words) in zip(codes, FAULTS):
        facts.append((f"Fault {code} on the {model}: {meaning}.",
                      [(f"My {model} shows {code}, what is wrong?", "identifier"),
                       (f"Which fault code does the {model} display when {user_words}?", "paraphrase")], "display"))
    for part, user_word in PARTS:
        facts.append((f"Tighten the {part} screws of the {model} to {rng.randint(4, 60)} Nm.",
                      [(f"What torque do the {user_word} fasteners on the {model} need?", "paraphrase")], part))
    return facts


def manuals(rng: random.Random) -> dict:
    from fpdf import FPDF

    (HERE / "manuals").mkdir(exist_ok=True)
    texts, queries = [], []
    for filename, title, models in FAMILIES:
        pdf = FPDF()
        pdf.set_creation_date(datetime(2025, 1, 1, tzinfo=timezone.utc))  # the same bytes each time
        pdf.set_auto_page_break(auto=False)
        page = 0
        for model in models:
            facts = manual_facts(model, rng)
            rng.shuffle(facts)
            for start in range(0, len(facts), 3):  # three facts a page, in prose about the same things
                page += 1
                on_page = facts[start:start + 3]
                things = [thing for _, _, thing in facts]
                prose = [rng.choice(AROUND).format(thing=thing, model=model)
                         for thing in [t for _, _, t in on_page] + rng.sample(things, 6)]
                sentences = [sentence for sentence, _, _ in on_page] + prose + rng.sample(SAFETY, 2)
                rng.shuffle(sentences)
                pdf.add_page()
                pdf.set_font("Helvetica", "B", 11)
                pdf.multi_cell(0, 6, f"{title} - {model}", new_x="LMARGIN", new_y="NEXT")
                pdf.set_font("Helvetica", size=9)
                pdf.multi_cell(0, 4.5, "\n\n".join(" ".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4)))
                for sentence, asked, _ in on_page:
                    texts.append({"id": f"{filename}#{page}:{len(texts)}", "file": filename, "page": page,
                                  "text": sentence})
                    for question, kind in asked:
                        queries.append({"id": f"q{len(queries)}", "query": question, "kind": kind,
                                        "evidence": [[{"file": filename, "page": page, "span": sentence}]]})
        pdf.output(str(HERE / "manuals" / filename))
    # texts here are the facts as written; the benchmark's passages are what the pipeline makes of the PDFs
    return {"kind": "documents", "files": [f for f, _, _ in FAMILIES], "texts": texts, "queries": queries}


def main() -> None:
    write("conversation.json.gz", conversation(random.Random(SEED)))
    write("records.json.gz", records(random.Random(SEED + 1)))
    write("manuals.json.gz", manuals(random.Random(SEED + 2)))


if __name__ == "__main__":
    main()
