"""Dockerfile parsing, word expansion and .dockerignore rules of the classic builder."""

import pytest

from dockyard_apiserver.build import parser
from dockyard_apiserver.build.ignore import Matcher, read_patterns
from dockyard_apiserver.build.lex import Lex
from dockyard_common import errors


def test_stages_meta_args_flags_and_forms():
    df = parser.parse(
        "# escape=\\\n"
        "ARG BASE=busybox\n"
        "FROM ${BASE} AS Builder\n"
        "# a comment\n"
        "RUN echo a \\\n"
        "  # comment inside a continuation\n"
        "\n"
        "  && echo b\n"
        'RUN ["sh", "-c", "echo exec"]\n'
        "COPY --chown=1000:1000 --from=x a b /dst/\n"
        'ENV A=1 B="two words"\n'
        "ENV LEGACY some value\n"
        "FROM scratch\n"
        "CMD echo hi\n")
    assert [a.args for a in df.meta_args] == [[("BASE", "busybox")]]
    first, second = df.stages
    assert (first.base, first.name) == ("${BASE}", "builder")
    run, run_exec, copy, env, legacy = first.commands
    assert run.args == "echo a   && echo b" and not run.json_form
    assert run.line == 5
    assert run_exec.args == ["sh", "-c", "echo exec"] and run_exec.json_form
    assert copy.flags == {"chown": "1000:1000", "from": "x"} and copy.args == ["a", "b", "/dst/"]
    assert env.args == [("A", "1"), ("B", '"two words"')]
    assert legacy.args == [("LEGACY", "some value")]
    assert second.base == "scratch" and second.commands[0].args == "echo hi"


def test_escape_directive_backtick():
    df = parser.parse("# escape=`\nFROM x\nRUN echo a `\n  b\n")
    assert df.escape == "`"
    assert df.stages[0].commands[0].args == "echo a   b"


def _logical_lines(df):
    insts = list(df.meta_args)
    for stage in df.stages:
        insts += [stage.source] + stage.commands
    return [(i.line, i.original) for i in insts]


# Docker's line rules (moby parser.Parse). The first six inputs are where dockerfile-parse 2.0.1
# differs from Docker, the reason we keep our own line layer (see build/README.md).
@pytest.mark.parametrize("text,expected", [
    ("FROM x\nRUN echo a \\\n\n  && echo b\n", [(1, "FROM x"), (2, "RUN echo a   && echo b")]),
    ("FROM x\nRUN echo a \\\n   \n  && echo b\n", [(1, "FROM x"), (2, "RUN echo a   && echo b")]),
    ("FROM x\nRUN echo a \\", [(1, "FROM x"), (2, "RUN echo a")]),
    ("FROM x\nRUN echo a \\\n# trailing\n", [(1, "FROM x"), (2, "RUN echo a")]),
    ("FROM x\nRUN\\\n echo hi\n", [(1, "FROM x"), (2, "RUN echo hi")]),
    ("\ufeffFROM x\n", [(1, "FROM x")]),
    ("FROM x\r\nRUN a \\\r\n  b\r\n", [(1, "FROM x"), (2, "RUN a   b")]),
    ("# escape=`\nFROM x\nRUN dir c:\\\nRUN echo next\n",
     [(2, "FROM x"), (3, "RUN dir c:\\"), (4, "RUN echo next")]),
    ("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n", [(3, "FROM x"), (4, "RUN a  b")]),
    ("FROM x\nRUN printf 'a\x0cb\u2028c'\n", [(1, "FROM x"), (2, "RUN printf 'a\x0cb\u2028c'")]),
])
def test_line_layer_matches_docker(text, expected):
    assert _logical_lines(parser.parse(text)) == expected


def test_json_array_with_escapes_and_continuation():
    df = parser.parse('FROM x\nCMD ["sh", "-c", "echo \\"hi\\" \\\\ there"]\n'
                      'ENTRYPOINT ["a", \\\n  "b"]\n')
    cmd, entrypoint = df.stages[0].commands
    assert cmd.json_form and cmd.args == ["sh", "-c", 'echo "hi" \\ there']
    assert entrypoint.json_form and entrypoint.args == ["a", "b"]


@pytest.mark.parametrize("text,message", [
    ("FROM x\nFROBNICATE now\n", "dockerfile parse error line 2: unknown instruction: FROBNICATE"),
    ("FROM x\n\n# c\nRUN a \\\n b\nFROBNICATE now\n", "parse error line 6: unknown instruction: FROBNICATE"),
    ("FROM x\nFROBNICATE", "dockerfile parse error line 2: unknown instruction: FROBNICATE"),
    ("FROM x\nRUN", "dockerfile parse error line 2: RUN requires at least one argument"),
    ("# escape=x\nFROM x\n", "dockerfile parse error line 1: invalid ESCAPE 'x'"),
    ("# escape=`\n# escape=\\\nFROM x\n", "line 2: only one escape parser directive can be used"),
    ("RUN echo\n", "dockerfile parse error line 1: no build stage in current context"),
    ("FROM x\nCOPY onlyone\n", "COPY requires at least two arguments"),
    ("FROM x\nSHELL /bin/bash\n", "SHELL requires the arguments to be in JSON form"),
    ("FROM x\nENV A=1 B\n", "Syntax error - can't find = in \"B\""),
    ("FROM x\nRUN --mount=type=cache,target=/x true\n", "requires BuildKit"),
    ("FROM x\nONBUILD FROM y\n", "FROM isn't allowed as an ONBUILD trigger"),
    ("", "file with no instructions"),
])
def test_parse_errors(text, message):
    with pytest.raises(errors.InvalidArgument) as ei:
        parser.parse(text)
    assert message in ei.value.message


def test_lex_substitution_and_quotes():
    lex = Lex()
    env = {"A": "x", "EMPTY": "", "SP": "a b"}
    assert lex.process_word("$A ${A}/y", env) == "x x/y"
    assert lex.process_word("${MISSING:-dflt} ${A:-no} ${A:+alt} ${EMPTY:+alt}", env) == "dflt x alt "
    assert lex.process_word("'$A' \"$A\" \\$A", env) == "$A x $A"
    assert lex.process_word('"${SP} world"', env) == "a b world"
    assert lex.process_word("price: $", env) == "price: $"
    with pytest.raises(errors.InvalidArgument):
        lex.process_word('"unterminated', env)


def test_dockerignore_rules():
    m = Matcher(read_patterns("# comment\nignored.txt\n*.log\n!keep.log\nsecret/\n**/*.tmp\n/abs\n"))
    assert m.excluded("ignored.txt") and m.excluded("drop.log")
    assert not m.excluded("keep.log")
    assert m.excluded("secret") and m.excluded("secret/key")
    assert m.excluded("a/b/c.tmp") and m.excluded("c.tmp")
    assert m.excluded("abs") and m.excluded("abs/x")
    assert not m.excluded("sub/drop.log")     # * does not cross directories
    assert not m.excluded("sub/a.txt")
