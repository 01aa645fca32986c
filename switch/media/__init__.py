"""Media endpoint for voicemail and prompts: SDP, RTP, G.711, WAV, mailboxes.

The whole API the SIP side needs::

    server = MediaServer("192.0.2.5", 20000, 20999)          # RTP port range, even ports
    session, answer_sdp = await server.open(call_id, offer)   # offer=None -> our offer;
                                                              #   then session.apply_answer()
    session.play(pcm, then=callback)   # queue 8 kHz 16-bit mono PCM, paced at 20 ms
    session.stop_playback()            # drop the queue (dropped items' `then` not called)
    session.record(path, max_seconds=120, silence_seconds=5, on_stop=cb)  # cb(duration)
    session.stop_recording()
    session.on_dtmf = lambda digit: ...  # "0"-"9", "*", "#", "A"-"D" (RFC 4733)
    session.renegotiate(offer) -> answer_sdp  # re-INVITE (hold/resume)
    session.close()                    # idempotent; finalises a recording (on_stop fires)
    server.close()                     # all sessions, e.g. on SIGTERM
    session.packets_received / packets_written / packets_sent   # counters

Errors from open(): `SdpError.status_hint` (488 no common codec, 400 malformed SDP) and
`MediaUnavailable` (503, port range exhausted).

Pure helpers: `prompts` (shipped espeak-ng WAVs, beep, "you have N new messages"),
`wav.read_wav` (greeting files), `VoicemailStore` (mailboxes under state_dir/voicemail).

Libraries: numpy for the G.711 tables, mixing and resampling; the RTP, SDP and WAV code
is our own (small, pure, and shaped for the sans-IO design rather than aiortc's
RTCPeerConnection or pyVoIP's threads). Only `session` imports asyncio.
"""

from switch.media.sdp import SdpError
from switch.media.session import MediaServer, MediaSession, MediaUnavailable
from switch.media.voicemail import Mailbox, Message, VoicemailStore

__all__ = [
    "Mailbox",
    "MediaServer",
    "MediaSession",
    "MediaUnavailable",
    "Message",
    "SdpError",
    "VoicemailStore",
]
