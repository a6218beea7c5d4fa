"""How the command-line tests read an error: one line on stderr, no traceback."""
from minivae.cli.commands import main


def one_line(err):
    """The single line an error prints; no traceback."""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def refused(argv, capsys):
    """Run ``minivae *argv``; assert a usage error (status 2) of one line, and return that line."""
    capsys.readouterr()
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    return one_line(capsys.readouterr().err)
