"""ChunkCoalescer: the first delta goes out at once, later ones are joined per channel."""

from __future__ import annotations

from cocore.crypto import EncryptionKeyPair, SealScheme, open_request, seal_request
from services.provider.link import Channel, ChunkCoalescer, JobOutput
from services.provider.link.output import OutputLimits, ReplayBudget


async def test_coalescing_joins_deltas_and_keeps_channels_apart() -> None:
    keys = EncryptionKeyPair.generate(SealScheme.X25519)
    blob, pub, opener = seal_request(SealScheme.X25519, keys.public_key_b64, b"prompt")
    _, sealer = open_request(keys, pub, blob)
    out = JobOutput("job", OutputLimits(), ReplayBudget(1 << 20, lambda: None), lambda: None)
    out.attached = True
    coalescer = ChunkCoalescer(out, sealer, max_bytes=8, max_delay_s=60)
    for piece in ["He", "ll", "o ", "wo", "rl", "d!"]:
        await coalescer.add(Channel.CONTENT, piece)
    await coalescer.add(Channel.REASONING, "hmm")
    await coalescer.flush()
    frame = out.pull()
    assert frame is not None
    opened = [(c.channel, opener.open_chunk(c.sealed).decode()) for c in frame.chunks.chunks]
    assert opened == [(1, "He"), (1, "llo worl"), (1, "d!"), (2, "hmm")]
    assert len(coalescer.sealed) == 4  # every blob, for the output cipher commitment
