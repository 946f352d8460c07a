"""The `smqi` command line: a thin layer over the library, one module per command (``kg/cli/<command>.py``).

Exit codes (every command): 0 ok, 1 invalid input or SHACL violations, 2 usage error or unreadable
input; each command's ``--help`` ends with what they mean for it (``EXIT_CODES`` of its module). User
errors are printed as one clear message, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module
from typing import Sequence

from kg import __version__
from kg.model.errors import InputInvalid, SmqiError

EXIT_CODES = """exit codes (each command's --help says what they mean for it):
  0  success
  1  invalid input: the sheets or files break the codebook or the SHACL shapes
  2  usage error (also smqi without a command), or input that cannot be read"""

# In the order of `smqi --help`; each module has register(add) and run(args).
COMMANDS = ("build", "validate", "add", "diff", "export", "query", "link", "claims", "agreement", "typology",
            "network", "report", "docs", "serve", "push")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smqi",
        description="smqi-kg: a knowledge graph of the evidence on social media used to engage "
                    "stakeholders in health service design and quality improvement.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"smqi-kg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def adder(module):
        def add(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
            return sub.add_parser(name, help=help_text, description=description, epilog=module.EXIT_CODES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        return add

    for command in COMMANDS:
        module = import_module(f"kg.cli.{command}")
        module.register(adder(module))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and --version exit 0 as argparse does; a usage error is exit 2
        if exc.code in (0, None):
            raise
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
        code = code if isinstance(code, int) else 0
        if argv is None and getattr(args, "skip_teardown", False):
            # Run as the `smqi` command after a fast build: everything is written and closed, so end
            # without freeing millions of store entries one by one (about a second at 100k studies).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    except InputInvalid as exc:
        print(f"smqi {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except SmqiError as exc:
        print(f"smqi {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("smqi: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except RecursionError:
        print(f"smqi {args.command}: error: the input is nested too deeply to process", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"smqi {args.command}: error: out of memory (see the limits in the README)", file=sys.stderr)
        return 2
    except Exception as exc:  # the last line of defence (issue #8): a message, never a traceback
        detail = " ".join(str(exc).split())[:500]
        print(f"smqi {args.command}: internal error: {type(exc).__name__}: {detail} — please report this",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
