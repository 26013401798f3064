from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from intently import Engine
from intently.cli import app
from intently.engine import ingest_file
from intently.sources import ColumnMap
from intently.testing import Shop

REES46_LIKE = """event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde
2019-10-01 00:00:01 UTC,view,17200506,2053013559792632471,furniture.living_room.sofa,,543.10,541312140,72d76fde
2019-10-01 00:05:00 UTC,cart,17200506,2053013559792632471,furniture.living_room.sofa,,543.10,541312140,72d76fde
not a time,view,1,2,,,1.0,999,s
2019-10-01 00:06:00 UTC,purchase,17200506,2053013559792632471,furniture.living_room.sofa,,543.10,541312140,72d76fde
2019-10-01 00:07:00 UTC,view,1,2,,,1.0,,s2
2019-10-01 00:08:00 UTC,view,1,2,,,1.0
"""


def test_csv_export_with_guessed_columns_messy_fields_and_bad_rows(engine: Engine,
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "oct.csv"
    path.write_text(REES46_LIKE)
    result = ingest_file(engine, path)
    assert (result.accepted, result.duplicates, result.rejected) == (4, 0, 3)
    side = Path(result.rejected_file or "")
    rejected = [json.loads(line) for line in side.read_text().splitlines()]
    assert [r["row"] for r in rejected] == [4, 6, 7]
    assert "cannot parse timestamp" in rejected[0]["reason"]
    assert rejected[1]["path"].endswith("userId")
    assert "fields" in rejected[2]["reason"] or "header" in rejected[2]["reason"]
    p = engine.profile("541312140")
    assert p.signal_counts == {"viewed_product": 2, "added_to_cart": 1, "purchased": 1}
    assert p.orders == 1 and p.revenue == 543.10
    assert p.categories == {"furniture.living_room.sofa": 3}
    timeline = engine.timeline(p)
    assert timeline[-1].properties["brand"] == "shiseido"
    assert timeline[-1].properties["session_id"] == "72d76fde"
    assert "category_code" not in timeline[-1].properties  # empty optional fields are left out
    again = ingest_file(engine, path)  # same file twice: nothing stored twice
    assert (again.accepted, again.duplicates) == (0, 4)


def test_explicit_mapping_epoch_millis_and_renamed_properties(engine: Engine,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "custom.csv"
    path.write_text("who,when,what,amt,sku\n"
                    "c1,1569888000000,Order Completed,12.5,A-1\n"
                    "c1,1569888060,Product Viewed,,B-2\n")
    cmap = ColumnMap(user="who", time="when", event="what",
                     properties={"revenue": "amt", "product_id": "sku"})
    result = ingest_file(engine, path, cmap)
    assert result.accepted == 2 and result.rejected == 0
    p = engine.profile("c1")
    assert p.revenue == 12.5 and p.first_seen == 1569888000.0 and p.last_seen == 1569888060.0
    assert engine.timeline(p)[0].properties == {"product_id": "B-2"}


def test_jsonl_segment_events_and_parquet(engine: Engine, tmp_path: Path) -> None:
    shop = Shop(users=20, days=3, seed=1)
    jsonl = tmp_path / "shop.jsonl"
    n = shop.write(jsonl)
    with jsonl.open("a") as fh:
        fh.write("{broken\n")
    result = ingest_file(engine, jsonl)
    assert (result.accepted, result.rejected) == (n, 1)

    table = pa.table({"user_id": ["p1", "p1"], "ts": ["2026-01-01T10:00:00Z", None],
                      "event": ["Product Viewed", "Product Added"], "price": [5.0, None]})
    parquet = tmp_path / "events.parquet"
    pq.write_table(table, parquet)
    result = ingest_file(engine, parquet, ColumnMap(time="ts"))
    assert (result.accepted, result.rejected) == (1, 1)  # a row without its time is refused
    assert engine.profile("p1").events == 1


def test_cli_ingest_json_output_and_profile(tmp_path: Path) -> None:
    path = tmp_path / "oct.csv"
    path.write_text(REES46_LIKE)
    db = tmp_path / "cli.db"
    runner = CliRunner()
    out = runner.invoke(app, ["ingest", str(path), "--db", str(db), "--json",
                              "--user-col", "user_id", "--time-col", "event_time",
                              "--event-col", "event_type", "--map", "category=category_code"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary == {"accepted": 4, "duplicates": 0, "suppressed": 0, "rejected": 3,
                       "rejected_file": str(path) + ".rejected.jsonl"}
    shown = runner.invoke(app, ["profile", "541312140", "--db", str(db), "--json"])
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    assert view["aggregates"]["orders"] == 1 and len(view["timeline"]) == 4
    assert [s["signal"] for s in view["journey"]["chain"]] == [
        "viewed_product", "viewed_product", "added_to_cart", "purchased"]
    missing = runner.invoke(app, ["profile", "nobody", "--db", str(db)])
    assert missing.exit_code == 1 and "no customer" in missing.output
    bad_map = runner.invoke(app, ["ingest", str(path), "--db", str(db), "--map", "oops"])
    assert bad_map.exit_code == 2 and "field=column" in bad_map.output


def test_files_as_users_export_them(engine: Engine, tmp_path: Path) -> None:
    # European Excel: semicolons, a comma as the decimal mark in text, Latin-1 names
    semi = tmp_path / "shop.csv"
    semi.write_bytes("user_id;event;timestamp;email;city\n"
                     "u1;Order Completed;2026-09-01T10:00:00Z;Ann@Shop.test;Malm\xf6\n"
                     .encode("latin-1"))
    runner = CliRunner()
    out = runner.invoke(app, ["ingest", str(semi), "--db", str(tmp_path / "cli.db"), "--json"])
    assert out.exit_code != 0 and "--encoding latin-1" in out.output and "line 2" in out.output
    result = ingest_file(engine, semi, encoding="latin-1")
    assert (result.accepted, result.rejected) == (1, 0)
    p = engine.profile("u1")
    assert engine.find("ann@shop.test") is p  # an email column is an identity, not a property
    assert engine.timeline(p)[0].properties == {"city": "Malm\xf6"}
    # GA4's BigQuery export: pseudo ids, microsecond times, event_name
    ga4 = tmp_path / "ga4.csv"
    ga4.write_text("event_date,event_timestamp,event_name,user_pseudo_id,user_id\n"
                   "20260901,1788256800000000,page_view,123.456,\n"
                   "20260901,1788256860000000,purchase,123.456,c-9\n")
    assert ingest_file(engine, ga4).accepted == 2
    assert engine.profile("123.456") is engine.profile("c-9")
    assert engine.profile("c-9").first_seen == 1788256800.0
    # Mixpanel: distinct_id, time in seconds, $insert_id; an empty time is refused, not "now"
    mix = tmp_path / "mixpanel.tsv"
    mix.write_text("event\tdistinct_id\ttime\t$insert_id\nSignup\tm-1\t1788256800\tx1\n"
                   "Signup\tm-2\t\tx2\n")
    result = ingest_file(engine, mix)
    assert (result.accepted, result.rejected) == (1, 1)
    reason = json.loads(Path(result.rejected_file or "").read_text().splitlines()[0])
    assert reason["row"] == 2 and "empty timestamp" in reason["reason"]


def test_jsonl_segment_lines_are_decoded_once_and_stored_as_read(engine: Engine,
                                                                  tmp_path: Path) -> None:
    """A Segment line becomes an event in one decode and is stored byte for byte as read (as
    the HTTP API stores what clients send); a line that needs changing to be stored (nulls,
    no messageId) is stored as the event; anything else is a row for the mapping. (A line
    with `"properties": null` was once taken for a row of columns: its traits were stored as
    a property.)"""
    lines = [
        b'{"type":"track", "userId":"j1", "event":"Product Viewed", "messageId":"l1",'
        b' "timestamp":"2026-09-01T10:00:00Z", "properties":{"sku":"a"}, "version":2}',
        b'{"type":"identify","userId":"j1","messageId":"l2","timestamp":"2026-09-01T10:01:00Z",'
        b'"properties":null,"traits":{"plan":"pro"}}',
        b'{"type":"track","userId":"j2","event":"Signed Up","timestamp":"2026-09-01T10:02:00Z"}',
        b'{"type":"track","userId":"j3","event":"x","messageId":"l4","timestamp":"soon"}',
        b'{"event":"x","messageId":"l5","timestamp":"2026-09-01T10:03:00Z"}',  # no one
        b'[1, 2]',
    ]
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n\r\n")
    result = ingest_file(engine, path)
    assert (result.accepted, result.rejected) == (3, 3)
    reasons = [json.loads(line) for line in Path(result.rejected_file or "").read_text()
               .splitlines()]
    assert [(r["row"], r["path"]) for r in reasons] == [
        (4, "row 4: $.timestamp"), (5, "row 5: $.userId"), (6, "line 6")]
    stored = [e.payload for part in engine.store.read_log(0) for e in part]
    assert stored[0] == lines[0]  # as read: spacing and the unknown field kept, no CR
    assert json.loads(stored[1])["traits"] == {"plan": "pro"}  # nulls dropped: re-encoded
    assert "properties" not in json.loads(stored[1])
    assert json.loads(stored[2])["messageId"]  # the one the engine gave it
    j1 = engine.profile("j1")
    assert j1 is not None and j1.traits["plan"] == "pro" and j1.events == 2
