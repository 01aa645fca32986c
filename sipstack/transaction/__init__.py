"""RFC 3261 §17 transactions: the four state machines and the layer that runs them."""

from ..errors import LocalProtocolError
from .base import TxInput
from .ict import Ict, IctState
from .ist import Ist, IstState
from .keys import ServerKey, client_tx_id, server_key
from .layer import TransactionLayer
from .nict import Nict, NictState
from .nist import Nist, NistState

__all__ = [
    "Ict",
    "IctState",
    "Ist",
    "IstState",
    "LocalProtocolError",
    "Nict",
    "NictState",
    "Nist",
    "NistState",
    "ServerKey",
    "TransactionLayer",
    "TxInput",
    "client_tx_id",
    "server_key",
]
