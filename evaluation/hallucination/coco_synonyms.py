"""Words and phrases that name the 80 COCO object categories, written for this project.

CHAIR-style metrics need to know that "puppy" is a dog, "people" are persons and "hot dog" is not a
dog. This module holds that knowledge as data; :mod:`polyrlaif.evaluation.hallucination.vocab` turns
it into a matcher. The rules, in order of how the matcher applies them:

1. **Longest match first.** Text is cut into lowercase word tokens (punctuation and hyphens split
   words, a possessive ``'s`` is dropped) and, at each position, the longest phrase in the table
   wins and consumes its words. So "hot dog" is a hot dog (never a dog), "teddy bear" a teddy bear
   (never a bear), "baseball bat" a bat (never a sports ball), "cell phone" one cell phone.
2. **Phrases that are not the object they contain** (:data:`COCO_PHRASES`) are mapped to another
   category ("toilet bowl" is a toilet, "microwave oven" a microwave, "tv remote" a remote,
   "dog bed" a bed, "bus driver" a person) or to ``None``, which consumes the words and names no
   object ("bus stop", "zebra crossing", "table tennis", "flower bed", "train tracks", "orange juice",
   "baseball field"). Qualifiers that would fire on the wrong category are folded in the same way:
   "baby elephant" is an elephant, not a baby (person); "passenger train" a train, not a passenger.
3. **Plurals are derived, not listed:** the last word of every phrase gets its regular plural
   (+s, +es after s/x/z/ch/sh, y -> ies after a consonant, f/fe -> ves as an extra form, -man ->
   -men) or its entry in :data:`IRREGULAR_PLURALS` (people, men, women, children, mice, geese,
   sheep, knives, ...). Words in :data:`NO_PLURAL` (already plural or uncountable) get none.
4. **Colour words that are also objects** (:data:`AMBIGUOUS_MODIFIERS`: "orange") are not counted
   when they directly precede another object phrase ("an orange cat" names a cat only).

Deliberately left out because they fire more often on the wrong sense than the right one: "glass"
and "glasses" (drinkware or eyewear; "wine glass" is listed), "seat", "pitcher", "batter", "cook",
"couple", "glove", "meter", "board", "bag", "chicken", "crow", "ram", "steer", "someone".
"""

from __future__ import annotations

__all__ = [
    "AMBIGUOUS_MODIFIERS",
    "COCO_CATEGORIES",
    "COCO_CATEGORY_NAMES",
    "COCO_PHRASES",
    "COCO_SYNONYMS",
    "IRREGULAR_PLURALS",
    "NO_PLURAL",
]

#: The 80 COCO categories with their official ids (not contiguous) and supercategories.
COCO_CATEGORIES: tuple[dict, ...] = tuple(
    {"id": i, "name": n, "supercategory": s}
    for i, n, s in [
        (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"),
        (4, "motorcycle", "vehicle"), (5, "airplane", "vehicle"), (6, "bus", "vehicle"),
        (7, "train", "vehicle"), (8, "truck", "vehicle"), (9, "boat", "vehicle"),
        (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"), (13, "stop sign", "outdoor"),
        (14, "parking meter", "outdoor"), (15, "bench", "outdoor"), (16, "bird", "animal"),
        (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"), (20, "sheep", "animal"),
        (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
        (24, "zebra", "animal"), (25, "giraffe", "animal"), (27, "backpack", "accessory"),
        (28, "umbrella", "accessory"), (31, "handbag", "accessory"), (32, "tie", "accessory"),
        (33, "suitcase", "accessory"), (34, "frisbee", "sports"), (35, "skis", "sports"),
        (36, "snowboard", "sports"), (37, "sports ball", "sports"), (38, "kite", "sports"),
        (39, "baseball bat", "sports"), (40, "baseball glove", "sports"), (41, "skateboard", "sports"),
        (42, "surfboard", "sports"), (43, "tennis racket", "sports"), (44, "bottle", "kitchen"),
        (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"),
        (49, "knife", "kitchen"), (50, "spoon", "kitchen"), (51, "bowl", "kitchen"),
        (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"), (55, "orange", "food"),
        (56, "broccoli", "food"), (57, "carrot", "food"), (58, "hot dog", "food"), (59, "pizza", "food"),
        (60, "donut", "food"), (61, "cake", "food"), (62, "chair", "furniture"),
        (63, "couch", "furniture"), (64, "potted plant", "furniture"), (65, "bed", "furniture"),
        (67, "dining table", "furniture"), (70, "toilet", "furniture"), (72, "tv", "electronic"),
        (73, "laptop", "electronic"), (74, "mouse", "electronic"), (75, "remote", "electronic"),
        (76, "keyboard", "electronic"), (77, "cell phone", "electronic"), (78, "microwave", "appliance"),
        (79, "oven", "appliance"), (80, "toaster", "appliance"), (81, "sink", "appliance"),
        (82, "refrigerator", "appliance"), (84, "book", "indoor"), (85, "clock", "indoor"),
        (86, "vase", "indoor"), (87, "scissors", "indoor"), (88, "teddy bear", "indoor"),
        (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
    ]
)

COCO_CATEGORY_NAMES: tuple[str, ...] = tuple(c["name"] for c in COCO_CATEGORIES)

#: category -> words and phrases naming it (singular; the category name itself is implied).
COCO_SYNONYMS: dict[str, list[str]] = {
    "person": [
        "people", "man", "woman", "child", "kid", "boy", "girl", "baby", "toddler", "infant", "adult",
        "teenager", "teen", "guy", "lady", "gentleman", "human", "player", "athlete", "skier",
        "snowboarder", "surfer", "skateboarder", "skater", "rider", "cyclist", "biker", "pedestrian",
        "passenger", "worker", "chef", "officer", "policeman", "policewoman", "soldier", "catcher",
        "umpire", "referee", "tourist", "spectator", "crowd", "mother", "father", "mom", "dad", "son",
        "daughter", "brother", "sister", "grandmother", "grandfather", "husband", "wife", "bride",
        "groom", "student", "teacher", "doctor", "nurse", "farmer", "vendor", "customer", "shopper",
        "driver", "cowboy", "fisherman", "businessman", "businesswoman",
    ],
    "bicycle": ["bike"],
    "car": ["automobile", "sedan", "suv", "taxi", "cab", "van", "minivan", "jeep"],
    "motorcycle": [
        "motorbike", "motor bike", "motor cycle", "dirt bike", "scooter", "motor scooter", "moped",
    ],
    "airplane": ["aeroplane", "air plane", "plane", "jet", "jetliner", "airliner", "aircraft"],
    "bus": [],
    "train": ["locomotive", "tram", "streetcar", "train car"],
    "truck": ["pickup truck", "lorry", "fire engine"],
    "boat": [
        "ship", "sailboat", "sail boat", "kayak", "canoe", "yacht", "ferry", "raft", "speedboat",
        "speed boat", "rowboat", "row boat", "houseboat",
    ],
    "traffic light": ["traffic signal", "stop light", "stoplight"],
    "fire hydrant": ["hydrant"],
    "stop sign": [],
    "parking meter": [],
    "bench": [],
    "bird": [
        "pigeon", "seagull", "gull", "duck", "goose", "parrot", "sparrow", "eagle", "owl", "swan",
        "hawk", "pelican", "flamingo", "penguin",
    ],
    "cat": ["kitten", "kitty"],
    "dog": [
        "puppy", "pup", "terrier", "poodle", "labrador", "retriever", "bulldog", "bull dog", "sheepdog",
        "sheep dog", "beagle", "dachshund", "chihuahua", "corgi", "collie", "german shepherd",
    ],
    "horse": ["pony", "foal", "stallion", "mare"],
    "sheep": ["lamb", "ewe"],
    "cow": ["cattle", "bull", "calf", "ox", "heifer"],
    "elephant": [],
    "bear": ["polar bear", "grizzly"],
    "zebra": [],
    "giraffe": [],
    "backpack": ["back pack", "rucksack", "knapsack"],
    "umbrella": ["parasol"],
    "handbag": ["hand bag", "purse"],
    "tie": ["necktie", "bow tie"],
    "suitcase": ["suit case", "luggage"],
    "frisbee": ["flying disc"],
    "skis": ["ski"],
    "snowboard": ["snow board"],
    "sports ball": [
        "ball", "baseball", "football", "soccer ball", "basketball", "volleyball", "softball",
        "tennis ball", "beach ball", "golf ball",
    ],
    "kite": [],
    "baseball bat": ["bat"],
    "baseball glove": ["baseball mitt", "mitt", "catcher's mitt"],
    "skateboard": ["skate board"],
    "surfboard": ["surf board"],
    "tennis racket": ["racket", "racquet", "tennis racquet"],
    "bottle": [],
    "wine glass": ["wineglass", "champagne glass"],
    "cup": ["mug", "teacup"],
    "fork": [],
    "knife": [],
    "spoon": [],
    "bowl": [],
    "banana": [],
    "apple": [],
    "sandwich": ["burger", "hamburger", "cheeseburger", "hoagie", "panini"],
    "orange": [],
    "broccoli": [],
    "carrot": [],
    "hot dog": ["hotdog", "frankfurter"],
    "pizza": [],
    "donut": ["doughnut"],
    "cake": ["cupcake", "cup cake", "cheesecake"],
    "chair": ["armchair", "stool"],
    "couch": ["sofa", "loveseat", "love seat"],
    "potted plant": ["plant", "houseplant", "house plant", "flowerpot", "flower pot"],
    "bed": [],
    "dining table": ["table"],
    "toilet": ["urinal", "toilet seat", "toilet bowl"],
    "tv": ["television", "t v", "monitor"],
    "laptop": ["laptop computer", "macbook"],
    "mouse": ["computer mouse"],
    "remote": ["remote control", "controller", "tv remote", "television remote"],
    "keyboard": [],
    "cell phone": ["cellphone", "phone", "smartphone", "smart phone", "mobile phone", "iphone"],
    "microwave": ["microwave oven"],
    "oven": ["stove", "stovetop", "stove top", "toaster oven"],
    "toaster": [],
    "sink": [],
    "refrigerator": ["fridge"],
    "book": ["phone book"],
    "clock": [],
    "vase": [],
    "scissors": ["scissor"],
    "teddy bear": ["teddy", "teddybear", "stuffed animal", "stuffed bear"],
    "hair drier": ["hair dryer", "hairdryer", "blow dryer", "blow drier"],
    "toothbrush": ["tooth brush"],
}

_ANIMALS = ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")
_VEHICLES = ("airplane", "bus", "train", "car", "boat")
_SPORTS = ("baseball", "football", "basketball", "volleyball", "softball", "soccer", "tennis", "golf")
_SPORT_CONTEXT = (
    "game", "field", "court", "pitch", "stadium", "team", "cap", "hat", "uniform", "jersey", "match",
    "diamond", "net", "hoop", "club", "course", "practice", "league",
)


def _build_phrases() -> dict[str, str | None]:
    phrases: dict[str, str | None] = {
        # Places and things named after an object that is not itself claimed to be there.
        "bus stop": None, "bus station": None, "train station": None, "train track": None,
        "railroad track": None, "zebra crossing": None, "table tennis": None, "flower bed": None,
        "river bed": None, "dog food": None, "cat food": None, "bird feeder": None, "bird house": None,
        "bird bath": None, "orange juice": None, "apple juice": None, "pizza box": None,
        "pizza cutter": None, "toilet paper": None, "toilet brush": None, "mouse pad": None,
        "phone booth": None, "tv stand": None, "book shelf": None, "oven mitt": None, "cable car": None,
        "power plant": None, "ski slope": None, "ski lift": None, "ski resort": None, "ski pole": None,
        "ski lodge": None, "ski boot": None, "ski jacket": None, "ski goggle": None, "ski trail": None,
        "ski run": None, "bike lane": None, "bike path": None, "car park": None,
        # Compounds whose object is another category than their last or first word.
        "dog bed": "bed", "dog bowl": "bowl", "truck bed": "truck", "bus driver": "person",
        "truck driver": "person", "train driver": "person", "ski instructor": "person",
    }
    for sport in _SPORTS:
        for ctx in _SPORT_CONTEXT:
            phrases[f"{sport} {ctx}"] = None
        phrases[f"{sport} player"] = "person"
    for animal in _ANIMALS:
        for word in [animal, *COCO_SYNONYMS[animal]]:
            if len(word.split()) == 1:
                phrases[f"baby {word}"] = animal
                phrases[f"adult {word}"] = animal
    for vehicle in _VEHICLES:
        for word in [vehicle, *COCO_SYNONYMS[vehicle]]:
            if len(word.split()) == 1:
                phrases[f"passenger {word}"] = vehicle
    return phrases


#: phrase -> category, or ``None`` for a phrase that names no COCO object (rule 2 above).
COCO_PHRASES: dict[str, str | None] = _build_phrases()

#: singular -> plural forms that the regular rules would get wrong.
IRREGULAR_PLURALS: dict[str, list[str]] = {
    "person": ["people", "persons"],
    "man": ["men"],
    "woman": ["women"],
    "child": ["children"],
    "mouse": ["mice"],
    "goose": ["geese"],
    "sheep": ["sheep"],
    "deer": ["deer"],
    "fish": ["fish", "fishes"],
    "ox": ["oxen"],
    "foot": ["feet"],
    "tooth": ["teeth"],
    "bus": ["buses", "busses"],
    "cactus": ["cacti", "cactuses"],
    "knife": ["knives"],
    "calf": ["calves"],
    "wife": ["wives"],
    "scissor": ["scissors"],
}

#: Words with no plural of their own: already plural, or uncountable.
NO_PLURAL: frozenset[str] = frozenset(
    {"people", "skis", "scissors", "glasses", "pants", "jeans", "shorts", "luggage", "cattle", "broccoli",
     "furniture", "equipment"}
)

#: Object words that are also colour adjectives (rule 4 above).
AMBIGUOUS_MODIFIERS: frozenset[str] = frozenset({"orange"})
