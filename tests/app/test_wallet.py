import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.domain.wallet import InvalidWalletAddress, to_checksum_address, validate_wallet_address

# The test vectors of EIP-55 (https://eips.ethereum.org/EIPS/eip-55).
MIXED_CASE_VECTORS = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
# Also EIP-55 vectors: addresses whose correct checksum happens to be all upper or all lower case.
SINGLE_CASE_VECTORS = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
]
VALID = MIXED_CASE_VECTORS[0]


def flip_case_at(address: str, index: int) -> str:
    return address[:index] + address[index].swapcase() + address[index + 1 :]


@pytest.mark.parametrize("expected", MIXED_CASE_VECTORS + SINGLE_CASE_VECTORS)
def test_checksum_matches_the_eip55_vectors_from_any_case(expected):
    assert to_checksum_address(expected.lower()) == expected
    assert to_checksum_address("0x" + expected[2:].upper()) == expected


@pytest.mark.parametrize("address", MIXED_CASE_VECTORS + SINGLE_CASE_VECTORS)
def test_validate_accepts_correctly_checksummed_addresses(address):
    assert validate_wallet_address(address) == address


def test_validate_tolerates_surrounding_whitespace():
    assert validate_wallet_address(f"  {VALID}\n") == VALID


def test_address_without_letters_has_nothing_to_checksum_and_is_accepted():
    address = "0x" + "1234567890" * 4
    assert validate_wallet_address(address) == address


@pytest.mark.parametrize("address", [VALID.lower(), "0x" + VALID[2:].upper()])
def test_validate_rejects_addresses_without_a_checksum(address):
    with pytest.raises(InvalidWalletAddress, match="no EIP-55 checksum") as caught:
        validate_wallet_address(address)
    assert "checksummed" in str(caught.value)


def test_validate_rejects_a_wrong_checksum_without_suggesting_the_right_one():
    mistyped = flip_case_at(VALID, 3)
    with pytest.raises(InvalidWalletAddress, match=r"checksum \(EIP-55\) is wrong") as caught:
        validate_wallet_address(mistyped)
    assert VALID not in str(caught.value)
    assert "did you mean" not in str(caught.value).lower()


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("", "must start with 0x"),
        ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "must start with 0x"),
        ("0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "must start with 0x"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "40 hex digits: got 39"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0", "40 hex digits: got 41"),
        ("0x", "40 hex digits: got 0"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "non-hex character at position 42"),
        ("0xZZ", "non-hex character at position 3"),
        ("0x5aAeb605 F3E94C9b9A09f33669435E7Ef1BeAed", "non-hex character at position 11"),
        ("0x" + "0" * 40, "zero address"),
    ],
)
def test_validate_rejects_malformed_addresses_saying_what_is_wrong(address, problem):
    with pytest.raises(InvalidWalletAddress) as caught:
        validate_wallet_address(address)
    assert problem in str(caught.value)


@pytest.mark.parametrize("address", [None, 123, b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"])
def test_validate_rejects_non_strings(address):
    with pytest.raises(InvalidWalletAddress, match="must be a string"):
        validate_wallet_address(address)


def test_to_checksum_address_rejects_malformed_input():
    with pytest.raises(InvalidWalletAddress, match="40 hex digits"):
        to_checksum_address("0x1234")


def test_invalid_wallet_address_is_a_value_error():
    assert issubclass(InvalidWalletAddress, ValueError)


@given(raw=st.binary(min_size=20, max_size=20))
def test_checksum_of_any_address_validates(raw):
    assume(any(raw))
    checksummed = to_checksum_address("0x" + raw.hex())
    assert validate_wallet_address(checksummed) == checksummed
    assert to_checksum_address("0x" + raw.hex().upper()) == checksummed


@given(raw=st.binary(min_size=20, max_size=20), data=st.data())
def test_flipping_the_case_of_one_letter_breaks_the_checksum(raw, data):
    checksummed = to_checksum_address("0x" + raw.hex())
    letter_positions = [index for index, char in enumerate(checksummed) if index >= 2 and char.isalpha()]
    assume(letter_positions)
    index = data.draw(st.sampled_from(letter_positions))
    with pytest.raises(InvalidWalletAddress, match="checksum"):
        validate_wallet_address(flip_case_at(checksummed, index))
