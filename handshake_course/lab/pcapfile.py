"""The frames a lab capture saw, written as a classic pcap file (``capture.Frames``).

Each stored measurement whose experiment captured packets has its capture beside the JSON, as
``measurements/<name>.pcap``: the frames as the AF_PACKET socket saw them on the veth, cut to
``capture.SNAPLEN`` bytes, stamped by the kernel to the nanosecond (a nanosecond pcap file, magic
0xa1b23c4d, which tcpdump, Wireshark and dpkt read). ``handshake_course.capture.read`` reads it
back into the handshakes the JSON describes; Wireshark opens it as it is. As with tcpdump on a veth,
the TCP checksums are as the kernel left them for the device to fill in: Wireshark's checksum
validation, off by default, calls them wrong.

dpkt writes the file headers (the ``capture`` extra). The lab itself needs only the standard
library: without dpkt a measurement is still recorded, without its pcap file, and ``missing``
says why.
"""

from __future__ import annotations

import os

from .. import extras
from .capture import Frames

PART = "recording a lab capture as a pcap file"


def missing() -> str | None:
    """Why a pcap file cannot be written here (dpkt is not installed), or None if it can."""
    absent = extras.missing("capture")
    if not absent:
        return None
    return f"{PART} needs {', '.join(absent)}; install it with: {extras.install_command('capture')}"


def write(path: str | os.PathLike[str], frames: Frames) -> int:
    """Write ``frames`` to ``path`` as a classic pcap file with nanosecond time stamps; return the
    number of frames written. Raises ``extras.MissingExtra`` without dpkt."""
    extras.require("capture", PART)
    import dpkt

    header = dpkt.pcap.FileHdr(magic=dpkt.pcap.TCPDUMP_MAGIC_NANO, snaplen=frames.snaplen,
                               linktype=frames.link_type)
    with open(path, "wb") as f:
        f.write(bytes(header))
        for frame in frames.frames:
            record = dpkt.pcap.PktHdr(tv_sec=frame.sec, tv_usec=frame.nsec,  # tv_usec: nanoseconds here
                                      caplen=len(frame.data), len=frame.length)
            f.write(bytes(record) + frame.data)
    return len(frames.frames)
