"""The public surface is pinned: changing it is a decision, not an accident."""

import intently


def test_exported_members() -> None:
    assert sorted(intently.__all__) == sorted([
        "AuthError", "Engine", "Event", "IngestResult", "IntentlyError", "ManualClock",
        "NotFound", "PayloadTooLarge", "Processed", "Profile", "Settings", "SignalRule",
        "StoreError", "SystemClock", "ValidationError", "Vocabulary", "__version__",
    ])
    for name in intently.__all__:
        assert hasattr(intently, name)


def test_errors_carry_their_http_status() -> None:
    assert intently.ValidationError("x").status == 400
    assert intently.PayloadTooLarge("x").status == 413
    assert intently.AuthError("x").status == 401
    assert intently.NotFound("x").status == 404
    assert issubclass(intently.PayloadTooLarge, intently.ValidationError)
    assert all(issubclass(e, intently.IntentlyError) for e in (
        intently.ValidationError, intently.AuthError, intently.NotFound, intently.StoreError))


def test_settings_from_file_env_and_flags(tmp_path, monkeypatch) -> None:
    cfg = tmp_path / "intently.toml"
    cfg.write_text('[intently]\ndb = "file.db"\nsession_gap_minutes = 45\n')
    monkeypatch.setenv("INTENTLY_WRITE_KEYS", "k1, k2")
    s = intently.Settings.load(cfg, db="flag.db")
    assert (s.db, s.session_gap_minutes, s.write_keys) == ("flag.db", 45, ("k1", "k2"))
