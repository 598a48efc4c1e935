"""Executable companion to *Thinking Sparks!* (Park, Jeong, Kang; arXiv 2509.25758).

Rooms: ``models`` (load anything into a TransformerLens ``TransformerBridge``), ``circuits``
(EAP-IG), ``heads`` (emergent / base / retained sets), ``organism`` (our own post-trained
model zoo), ``evaluation`` (sampling, pass@k, success@k), ``cache``, ``plots``, ``cli``.
"""

__version__ = "0.1.0"
