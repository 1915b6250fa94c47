# pragma version ~=0.4.3
"""
@title TetherLikeToken
@notice A USDT-like ERC-20 for the golive chain simulator. Like Tether's TetherToken on Ethereum, it has
        6 decimals and its `transfer`, `transferFrom` and `approve` return NOTHING, so a client that
        expects an ERC-20 `bool` must not rely on a return value: success is judged by the receipt status
        and the `Transfer` log. Unlike Tether, a failed transfer reverts with a reason string.
@dev Compiled by `python -m simulators.chain.compile` into TetherLikeToken.json (ABI + bytecode).
"""

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)

name: public(String[64])
symbol: public(String[32])
decimals: public(constant(uint8)) = 6
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
owner: public(address)


@deploy
def __init__(_name: String[64], _symbol: String[32]):
    self.name = _name
    self.symbol = _symbol
    self.owner = msg.sender
    log OwnershipTransferred(previous_owner=empty(address), new_owner=msg.sender)


@internal
def _transfer(_from: address, _to: address, _value: uint256):
    assert _to != empty(address), "transfer to the zero address"
    assert self.balanceOf[_from] >= _value, "insufficient balance"
    self.balanceOf[_from] -= _value
    self.balanceOf[_to] += _value
    log Transfer(sender=_from, receiver=_to, value=_value)


@external
def transfer(_to: address, _value: uint256):
    """
    @notice Moves `_value` base units from the caller to `_to`. Returns nothing, as Tether's does.
    """
    self._transfer(msg.sender, _to, _value)


@external
def transferFrom(_from: address, _to: address, _value: uint256):
    """
    @notice Moves `_value` base units from `_from` to `_to` using the caller's allowance. Returns nothing.
    """
    allowed: uint256 = self.allowance[_from][msg.sender]
    assert allowed >= _value, "insufficient allowance"
    if allowed != max_value(uint256):
        self.allowance[_from][msg.sender] = allowed - _value
    self._transfer(_from, _to, _value)


@external
def approve(_spender: address, _value: uint256):
    """
    @notice Sets the allowance of `_spender`. Returns nothing. As Tether's, a non-zero allowance must be
            set to zero before it is changed to another non-zero value.
    """
    assert _value == 0 or self.allowance[msg.sender][_spender] == 0, "reset allowance to zero first"
    self.allowance[msg.sender][_spender] = _value
    log Approval(owner=msg.sender, spender=_spender, value=_value)


@external
def mint(_to: address, _value: uint256):
    """
    @notice Creates `_value` base units for `_to`. Only the owner may mint.
    """
    assert msg.sender == self.owner, "caller is not the owner"
    assert _to != empty(address), "mint to the zero address"
    self.totalSupply += _value
    self.balanceOf[_to] += _value
    log Transfer(sender=empty(address), receiver=_to, value=_value)


@external
def transferOwnership(_new_owner: address):
    """
    @notice Hands the minting right to `_new_owner`. Only the owner may do this.
    """
    assert msg.sender == self.owner, "caller is not the owner"
    assert _new_owner != empty(address), "new owner is the zero address"
    log OwnershipTransferred(previous_owner=self.owner, new_owner=_new_owner)
    self.owner = _new_owner
