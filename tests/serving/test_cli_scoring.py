"""``vitals score`` / ``vitals backfill``: summaries on success, one-line errors and exit codes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from vitals.cli.scoring import app

runner = CliRunner()


def test_score_then_backfill_print_bands_revenue_at_risk_and_movers(
    sample_dir: Path, model_dir: Path, sqlite_url: str
) -> None:
    common = ["--model", str(model_dir), "--database-url", sqlite_url]
    scored = runner.invoke(app, ["score", str(sample_dir), *common])
    assert scored.exit_code == 0, scored.output
    assert "score run 1" in scored.output
    assert "revenue at risk" in scored.output and "total" in scored.output
    assert "no earlier scores stored" in scored.output
    assert "building features" not in scored.output + scored.stderr  # no bars off a terminal
    filled = runner.invoke(app, ["backfill", str(sample_dir), "--days", "30", *common])
    assert filled.exit_code == 0, filled.output
    assert "backfill run 2" in filled.output and "(5 dates)" in filled.output
    assert "biggest movers since" in filled.output


def test_bad_input_exits_non_zero_with_one_line(
    sample_dir: Path, model_dir: Path, sqlite_url: str, tmp_path: Path
) -> None:
    common = ["--model", str(model_dir), "--database-url", sqlite_url]
    cases = {
        ("score", str(sample_dir), "--as-of", "2040-01-01", *common): "outside the data",
        ("score", str(sample_dir), "--as-of", "yesterday", *common): "not a date",
        ("score", str(sample_dir), "--database-url", sqlite_url): "no model at",
        ("backfill", str(sample_dir), "--every", "weekly", *common): "--every",
        ("score", str(tmp_path / "nothing"), *common): "nothing",
    }
    for args, message in cases.items():
        result = runner.invoke(app, list(args))
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith("error:") and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
