"""`name=` and `prompt=` list filters: substrings in any case, served by an index."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from conftest import make_database
from flask_migrate import downgrade, upgrade
from sqlalchemy import event, func, insert, inspect, select, text
from support import ended_job, generate, jpeg, upload

from image_repo import catalog, create_app, textsearch
from image_repo.models import GenerationJob, Image, Picture, User, db

NAMES = [
    "beach.jpg",
    "Beach-Sunset.jpg",
    "100%_real.png",
    "a_b.jpg",
    "axb.jpg",
    "夏休み.jpg",
    "café.jpg",
    "CAFÉ-2.jpg",
    "Straße.png",
    "pizza.jpg",
]


@pytest.fixture
def named(client) -> dict[str, int]:
    """One record per name in NAMES, each of another picture: name -> id."""
    ids = {}
    for seed, name in enumerate(NAMES):
        response = upload(client, jpeg(seed), name)
        assert response.status_code == 201, response.get_json()
        ids[name] = response.get_json()["id"]
    return ids


def listed(client, **params) -> set[str]:
    response = client.get("/image/list", query_string={"limit": 500, **params})
    assert response.status_code == 200, response.get_json()
    return {item["original_name"] for item in response.get_json()["items"]}


SUBSTRINGS = [
    # one, two and many characters, in any case
    ("z", {"pizza.jpg"}),
    ("zz", {"pizza.jpg"}),
    ("ZZ", {"pizza.jpg"}),
    ("beach", {"beach.jpg", "Beach-Sunset.jpg"}),
    ("BEACH-S", {"Beach-Sunset.jpg"}),
    ("ach.jp", {"beach.jpg"}),  # every trigram is in both beach names; the whole in one
    ("png", {"100%_real.png", "Straße.png"}),
    ("beach.jpg.", set()),
    ("x" * 255, set()),
    # % and _ match themselves
    ("%", {"100%_real.png"}),
    ("_", {"100%_real.png", "a_b.jpg"}),
    ("a_b", {"a_b.jpg"}),
    ("0%_", {"100%_real.png"}),
    # beyond ASCII: case folded in every script; accents count
    ("夏", {"夏休み.jpg"}),
    ("休み", {"夏休み.jpg"}),
    ("夏休み.JPG", {"夏休み.jpg"}),
    ("café", {"café.jpg", "CAFÉ-2.jpg"}),
    ("CAFÉ", {"café.jpg", "CAFÉ-2.jpg"}),
    ("é", {"café.jpg", "CAFÉ-2.jpg"}),
    ("cafe", set()),
    ("STRASSE", {"Straße.png"}),
    ("ß", {"Straße.png"}),
    ("\uff50\uff49\uff5a\uff5a\uff41", {"pizza.jpg"}),  # full-width "pizza" is pizza
]


@pytest.mark.parametrize(("pattern", "expected"), SUBSTRINGS)
def test_name_is_a_substring_in_any_case(client, named, pattern, expected):
    assert listed(client, name=pattern) == expected


@pytest.mark.parametrize(("pattern", "expected"), SUBSTRINGS)
def test_walking_and_candidates_find_the_same(app, named, pattern, expected):
    """Whichever way the search goes, the answer is the same."""
    with app.app_context():
        planned = textsearch.NAMES.search(pattern, page=50)
        walking = replace(planned, driver=None)
        for search in (planned, walking):
            found = db.session.scalars(select(Image.original_name).where(search.holds(Image.id)))
            assert set(found) == expected


def test_name_combines_with_other_filters(client, named):
    assert listed(client, name="jpg", owner="me", format="jpeg") == {
        name for name in NAMES if name.lower().endswith(".jpg")
    }
    assert listed(client, name="jpg", owner="nobody") == set()


@pytest.mark.parametrize("sort", ["uploaded_at", "-uploaded_at", "-taken_at", "file_size"])
@pytest.mark.parametrize("pattern", ["a", "jpg", "zz"])
def test_cursor_pages_of_a_name_hold_every_match_once(client, named, sort, pattern):
    seen, cursor = [], None
    while True:
        params = {
            "name": pattern,
            "sort": sort,
            "limit": 2,
            **({"cursor": cursor} if cursor else {}),
        }
        page = client.get("/image/list", query_string=params).get_json()
        seen += [item["original_name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(name for name in NAMES if pattern in textsearch.fold(name))
    if sort == "uploaded_at":
        assert seen == [name for name in NAMES if pattern in textsearch.fold(name)]


def test_a_rare_pattern_reads_candidates_a_common_one_walks(app, client):
    for seed in range(40):
        upload(client, jpeg(seed), f"IMG_{seed:04d}.jpg")
    upload(client, jpeg(99), "pizza.jpg")
    with app.app_context():
        assert not textsearch.NAMES.search("zz", page=50).walks
        assert not textsearch.NAMES.search("pizza", page=50).walks
        assert textsearch.NAMES.search("jpg", page=5).walks
        assert textsearch.NAMES.search("i", page=5).walks


def page_query_plan(app, filters: dict) -> str:
    """The database's plan for the query that reads the list page."""
    statements = []
    this_thread = threading.get_ident()

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        # Only this thread's: a job runner finishing its bookkeeping shares the engine.
        if threading.get_ident() == this_thread:
            statements.append((statement, parameters))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", capture)
        catalog.search(filters, limit=50)
        event.remove(db.engine, "before_cursor_execute", capture)
        statement, parameters = statements[-1]
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            if db.engine.dialect.name == "sqlite":
                cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                return " | ".join(str(row[-1]) for row in cursor.fetchall())
            cursor.execute(f"EXPLAIN {statement}", parameters)
            return " | ".join(f"{row[2]}:{row[3]}:{row[5]}" for row in cursor.fetchall())
        finally:
            connection.close()


@pytest.mark.parametrize(
    ("filters", "grams"),
    [
        ({"name": "zz"}, "search_name_grams"),
        ({"name": "pizza", "owner": "alice"}, "search_name_grams"),
        ({"prompt": "zz"}, "search_prompt_grams"),
    ],
)
def test_a_rare_pattern_is_found_through_the_index(app, client, request, filters, grams):
    """The page of a rare pattern is read from the grams' index: the rows of
    its candidates only, never a scan of every record or job."""
    with app.app_context():
        seed_generated(3_000)
    upload(client, jpeg(99), "pizza.jpg")
    ended_job(client, generate(client, prompt="a fizzy drink").location)

    plan = page_query_plan(app, filters)

    if request.config.getoption("--db") == "sqlite":
        assert f"SEARCH {grams} USING PRIMARY KEY (gram" in plan, plan
        assert "SCAN images" not in plan, plan
    else:
        assert f"{grams}:range:PRIMARY" in plan or f"{grams}:ref:PRIMARY" in plan, plan
        assert "images:index" not in plan and "images:ALL" not in plan, plan


def seed_generated(count: int) -> None:
    """`count` generated pictures of alice's, with their records and jobs,
    inserted in bulk (and indexed in bulk, as the migration does): enough
    rows for MySQL to plan as it would for a real library."""
    alice = db.session.scalar(select(User.id).where(User.name == "alice"))
    start = (db.session.scalar(select(func.max(Image.id))) or 0) + 1
    ids = range(start, start + count)
    facts = {"format": "JPEG", "width": 10, "height": 10, "file_size": 100}
    db.session.execute(
        insert(Picture),
        [{"id": n, "sha512": f"{n:0128x}", "state": "stored", **facts} for n in ids],
    )
    names = {n: f"IMG_{n:04d}.jpg" for n in ids}
    db.session.execute(
        insert(Image),
        [
            {"id": n, "picture_id": n, "owner_id": alice, "original_name": names[n], **facts}
            for n in ids
        ],
    )
    jobs = {n: (uuid.uuid4().hex, f"a lighthouse at dusk, take {n}") for n in ids}
    db.session.execute(
        insert(GenerationJob),
        [
            {
                "id": job,
                "owner_id": alice,
                "prompt": prompt,
                "final_prompt": prompt,
                "backend": "local",
                "model": "placeholder-v1",
                "status": "succeeded",
                "stage": "succeeded",
                "image_id": n,
                "duplicate": False,
            }
            for n, (job, prompt) in jobs.items()
        ],
    )
    connection = db.session.connection()
    textsearch.NAMES.add_all(connection, names.items())
    textsearch.PROMPTS.add_all(connection, jobs.values())
    db.session.commit()
    analyze = "ANALYZE" if db.engine.dialect.name == "sqlite" else "ANALYZE TABLE {}"
    tables = [
        table.name
        for index in (textsearch.NAMES, textsearch.PROMPTS)
        for table in (index.texts, index.grams)
    ]
    db.session.execute(text(analyze.format(", ".join(["images", "generation_jobs", *tables]))))
    db.session.commit()


ROBOT = "100% \uff32\uff4f\uff42\uff4f\uff54_one"  # "Robot" in full-width letters


def test_prompt_is_a_substring_in_any_case(client):
    made = {
        prompt: ended_job(client, generate(client, prompt=prompt).location)["image_id"]
        for prompt in ("A Fizzy Drink", ROBOT, "夏の海")
    }

    def matching(pattern: str) -> set[int]:
        items = client.get("/image/list", query_string={"prompt": pattern}).get_json()["items"]
        return {item["id"] for item in items}

    assert matching("zz") == {made["A Fizzy Drink"]}
    assert matching("FIZZY D") == {made["A Fizzy Drink"]}
    assert matching("y") == {made["A Fizzy Drink"]}
    assert matching("robot_") == {made[ROBOT]}
    assert matching("0%") == {made[ROBOT]}
    assert matching("%r") == set()
    assert matching("rob_t") == set()
    assert matching("の") == {made["夏の海"]}


def index_rows(query, table: str) -> int:
    return query(f"SELECT COUNT(*) FROM {table}")[0][0]


def test_deleting_records_removes_their_grams(client, make_user, app, query):
    """The last record of a picture and a record of a shared picture alike."""
    bob = app.test_client()
    bob.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_user('bob')}"
    kept = upload(client, jpeg(1), "kept.jpg").get_json()
    alone = upload(client, jpeg(2), "pizza alone.jpg").get_json()
    shared = upload(client, jpeg(3), "pizza shared.jpg").get_json()
    upload(bob, jpeg(3), "bob's copy.jpg")
    texts, grams = index_rows(query, "search_name_texts"), index_rows(query, "search_name_grams")
    kept_grams = len(textsearch.grams(textsearch.fold("kept.jpg")))
    bobs_grams = len(textsearch.grams(textsearch.fold("bob's copy.jpg")))
    assert texts == 4

    for record in (alone, shared):
        assert client.delete(f"/image/{record['id']}").status_code == 204

    assert index_rows(query, "search_name_texts") == 2
    assert index_rows(query, "search_name_grams") == kept_grams + bobs_grams < grams
    assert listed(client, name="pizza") == set()
    assert listed(client, name="kept") == {kept["original_name"]}


def test_every_record_and_job_is_indexed_once(app, client, query):
    upload(client, jpeg(1), "one.jpg")
    upload(client, jpeg(1), "one again.jpg")  # the same picture: the existing record
    ended_job(client, generate(client, prompt="a kite").location)
    with app.app_context():
        names = db.session.scalar(select(func.count()).select_from(textsearch.NAMES.texts))
        prompts = db.session.execute(text("SELECT job_id FROM search_prompt_texts")).all()
    assert names == 1  # the upload's record; the generated picture's has no name
    assert len(prompts) == 1


@pytest.fixture
def empty_database(request, tmp_path_factory) -> Iterator[str]:
    yield from make_database(request, tmp_path_factory)


def test_the_migration_indexes_what_is_already_stored(empty_database, tmp_path):
    """A database filled by the schema before the index: upgraded, every name
    and prompt is found; downgraded, the index is gone."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "FILE_STORAGE_LOCATION": str(tmp_path / "storage"),
            "CHECK_REPOSITORY": False,
        }
    )
    with app.app_context():
        upgrade(revision="0009")
        fill_with_the_previous_schema()

        upgrade()

        def found(**filters) -> list[int]:
            return [
                image.id for image in catalog.search(filters, sort="uploaded_at", limit=50).items
            ]

        assert found(name="zz") == [2]
        assert found(name="CAFÉ") == [3]
        assert found(name="jpg") == [1, 2, 3]
        assert found(prompt="FIZZY") == [4]
        assert found(prompt="y") == [4]
        assert index_sizes() == {"names": 3, "prompts": 2}
        db.session.remove()  # MySQL drops no table a transaction has read
        downgrade(revision="0009")
        assert not {"search_name_texts", "search_prompt_grams"} & set(
            inspect(db.engine).get_table_names()
        )
        upgrade()
        assert index_sizes() == {"names": 3, "prompts": 2}
        db.session.remove()
        db.engine.dispose()


def fill_with_the_previous_schema() -> None:
    """Records and jobs as revision 0006 stored them: three named uploads, a
    generated picture without a name, and a failed job."""
    now = "2026-01-01 00:00:00"
    pictures = [(n, f"{n:0128x}", "JPEG") for n in range(1, 5)]
    names = {1: "Beach.jpg", 2: "pizza.jpg", 3: "café.jpg", 4: None}
    statements = [
        "INSERT INTO users (id, name, is_admin, created_at) VALUES (1, 'alice', 0, :now)",
        *(
            "INSERT INTO pictures (id, sha512, state, state_since, format, width, height,"
            " frame_count, has_alpha, file_size, created_at)"
            f" VALUES ({n}, '{sha}', 'stored', :now, '{fmt}', 10, 10, 1, 0, 100, :now)"
            for n, sha, fmt in pictures
        ),
    ]
    for statement in statements:
        db.session.execute(text(statement), {"now": now})
    for n, name in names.items():
        db.session.execute(
            text(
                "INSERT INTO images (id, picture_id, owner_id, original_name, uploaded_at,"
                " source, format, width, height, file_size)"
                " VALUES (:n, :n, 1, :name, :uploaded, :source, 'JPEG', 10, 10, 100)"
            ),
            {
                "n": n,
                "name": name,
                "uploaded": f"2026-01-01 00:00:0{n}",
                "source": "upload" if name else "generated",
            },
        )
    for job, prompt, image in (("a" * 32, "A Fizzy Drink", 4), ("b" * 32, "a kite", None)):
        db.session.execute(
            text(
                "INSERT INTO generation_jobs (id, owner_id, prompt, final_prompt, backend, model,"
                " status, stage, progress, created_at, image_id, duplicate)"
                " VALUES (:job, 1, :prompt, :prompt, 'local', 'placeholder-v1', :status,"
                " :status, 100, :now, :image, :duplicate)"
            ),
            {
                "job": job,
                "prompt": prompt,
                "status": "succeeded" if image else "failed",
                "now": now,
                "image": image,
                "duplicate": False if image else None,
            },
        )
    db.session.commit()


def index_sizes() -> dict[str, int]:
    return {
        "names": db.session.scalar(select(func.count()).select_from(textsearch.NAMES.texts)),
        "prompts": db.session.scalar(select(func.count()).select_from(textsearch.PROMPTS.texts)),
    }
