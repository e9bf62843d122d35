"""Packet captures: a simulated run written as a pcap file that Wireshark opens
(``Result.to_pcap``, ``write_pcap``), the handshakes read back out of any capture, the model's
or one tcpdump took in production (``read``, ``load``, ``vantage``), and a capture diagnosed: what
its handshakes show and the scenario the model reproduces it with (``diagnose``).

The file formats are dpkt's (the ``capture`` extra: ``pip install 'handshake-course[capture]'``);
what the packets of a run carry is the model's own knowledge (``handshake_course.model.wire``).
"""

from __future__ import annotations

from ..extras import require

require("capture", "handshake_course.capture (pcap files)")  # before dpkt is imported

from .diagnosis import CaptureDiagnosis, ServerDiagnosis, diagnose, diagnose_capture
from .pcap import AT, EPOCH, write_pcap
from .read import Capture, CaptureWarning, Handshake, load, read, vantage

__all__ = ["AT", "EPOCH", "Capture", "CaptureDiagnosis", "CaptureWarning", "Handshake", "ServerDiagnosis",
           "diagnose", "diagnose_capture", "load", "read", "vantage", "write_pcap"]
