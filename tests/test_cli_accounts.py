"""``kru user`` / ``kru cohort`` / ``kru doctor`` from the command line."""

import pytest


def test_user_add_and_list(runner):
    result = runner("user", "add", "dara", "--password", "lotus-pond-7", "--name", "សុខ ដារា")
    assert result.exit_code == 0, result.stderr
    listed = runner("user", "list").stdout
    assert "dara\tlearner\tactive\tសុខ ដារា" in listed


def test_user_add_reads_the_password_from_stdin(runner):
    result = runner("user", "add", "kru1", "--role", "instructor", input="lotus-pond-7\n")
    assert result.exit_code == 0, result.stderr
    assert "kru1\tinstructor" in runner("user", "list", "--role", "instructor").stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["user", "add", "x", "--password", "lotus-pond-7"], "not valid"),
        (["user", "add", "dara", "--password", "123"], "at least 8"),
        (["user", "add", "dara", "--password", "lotus-pond-7", "--cohort", "Nope"], "No cohort"),
        (["user", "password", "ghost", "--password", "lotus-pond-7"], "No user"),
        (["cohort", "members", "Nope", "--add", "dara"], "No cohort"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_1(runner, args, needle):
    result = runner(*args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_failed_user_add_into_missing_cohort_creates_nothing(runner):
    runner("user", "add", "dara", "--password", "lotus-pond-7", "--cohort", "Nope")
    assert "dara" not in runner("user", "list").stdout


def test_duplicate_username_is_refused(runner):
    runner("user", "add", "dara", "--password", "lotus-pond-7")
    result = runner("user", "add", "DARA", "--password", "lotus-pond-7")
    assert result.exit_code == 1
    assert "already taken" in result.stderr


def test_user_set_deactivates(runner):
    runner("user", "add", "dara", "--password", "lotus-pond-7")
    assert runner("user", "set", "dara", "--inactive").exit_code == 0
    assert "dara\tlearner\tinactive" in runner("user", "list").stdout


def test_cohort_add_with_instructor_and_members(runner):
    runner("user", "add", "kru1", "--password", "lotus-pond-7", "--role", "instructor")
    runner("user", "add", "dara", "--password", "lotus-pond-7")
    assert runner("cohort", "add", "ថ្នាក់ A", "--instructor", "kru1").exit_code == 0
    result = runner("cohort", "members", "ថ្នាក់ A", "--add", "dara")
    assert result.stdout.splitlines() == ["kru1\tinstructor\tkru1", "dara\tlearner\tdara"]
    assert "ថ្នាក់ A\t1 learner(s)" in runner("cohort", "list").stdout


def test_cohort_add_with_unknown_instructor_creates_nothing(runner):
    result = runner("cohort", "add", "ថ្នាក់ A", "--instructor", "ghost")
    assert result.exit_code == 1
    assert "ថ្នាក់ A" not in runner("cohort", "list").stdout


def test_doctor_reports_sqlite_and_trigram(runner):
    runner("migrate")
    result = runner("doctor")
    assert "SQLite version" in result.stdout
    assert "FTS5 trigram tokenizer" in result.stdout
    assert result.exit_code == 0, result.stdout


def test_doctor_exits_1_on_a_configuration_problem(runner, monkeypatch):
    monkeypatch.setenv("KRU_PACKS_ALLOW_UNSIGNED", "false")
    result = runner("doctor")
    assert result.exit_code == 1
    assert "BAD Pack signatures" in result.stdout


def test_help_lists_every_command(runner):
    from edge_server.cli.main import COMMANDS, get_cli

    result = runner("--help")
    names = set(get_cli().commands)
    assert len(names) == len(COMMANDS)
    for name in names:
        assert f"  {name} " in result.stdout
