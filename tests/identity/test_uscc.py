from hypothesis import given
from hypothesis import strategies as st

from shugu.identity.uscc import ALPHABET, check_character, complete, uscc_problem

# Published codes of real organisations (their check characters are part of the code).
REAL = ["91110000100017643K", "91440300708461136T", "91330100716105852F"]


def test_real_codes_are_valid() -> None:
    for code in REAL:
        assert uscc_problem(code) is None, code


def test_wrong_check_character_is_named() -> None:
    code = REAL[0][:17] + ("0" if REAL[0][17] != "0" else "1")
    problem = uscc_problem(code)
    assert problem is not None and "check character" in problem


def test_length_and_alphabet() -> None:
    assert "18 characters" in (uscc_problem("9133") or "")
    assert "alphabet" in (uscc_problem("91330100716105852I") or "")


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_completed_codes_validate_and_any_single_change_is_caught(first17: str) -> None:
    code = complete(first17)
    assert uscc_problem(code) is None
    for i in range(17):
        for c in ALPHABET[:5]:
            if c != code[i]:
                changed = code[:i] + c + code[i + 1:]
                # A single substitution always changes the weighted sum mod 31.
                assert changed[17] != check_character(changed[:17])
                break
