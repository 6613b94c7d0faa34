"""Decode: metadata -> basic instructions, zero-shot (CodecLM §4.1)."""

from __future__ import annotations

import dspy

from codeclm_dspy.engine.runtime import AsyncStep, Runtime
from codeclm_dspy.pipeline.records import Metadata
from codeclm_dspy.pipeline.text import clean_instruction, looks_like_instruction, normalize
from codeclm_dspy.steps import DECODE
from signatures import DecodeInstructions

TOP_UP_ROUNDS = 3
# Rollout numbers of distinct decode requests are this far apart, so the
# parse retries of one never collide with the next; fixed (not derived from
# engine.parse_retries) so a resume with other engine settings sends the same
# requests.
ROLLOUT_STRIDE = 16


class Decoder(AsyncStep):
    """Write ``count`` distinct basic instructions for one metadata."""

    def __init__(self):
        super().__init__()
        self.decode = dspy.Predict(DecodeInstructions)

    async def aforward(self, rt: Runtime, meta: Metadata, count: int) -> list[str]:
        """At most ``count`` distinct instructions (see ``write``)."""
        return (await self.write(rt, meta, count))[0][:count]

    async def write(
        self, rt: Runtime, meta: Metadata, count: int, call: int = 0
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Ask for ``count``; ask again (fresh rollouts) for any shortfall.

        Args:
            call: this metadata's how-many-th decode call; a later call is
                a new request (its own rollouts), so it brings new samples.

        Returns:
            The instructions (distinct after normalisation; more than
            ``count`` when the model wrote more) and what was set aside, as ``(text, reason)``:
            answers that are not instructions and repeats within the call,
            so the run can record every piece of output it was given.
        """
        found: dict[str, str] = {}
        discarded: list[tuple[str, str]] = []
        for round_ in range(TOP_UP_ROUNDS):
            missing = count - len(found)
            if missing <= 0:
                break
            out = await rt.astructured(
                self.decode,
                DECODE.name,
                DECODE.role,
                rollout=(call * TOP_UP_ROUNDS + round_) * max(ROLLOUT_STRIDE, rt.parse_retries + 1),
                use_case=meta.use_case,
                skills=list(meta.skills),
                count=missing,
            )
            for text in out.new_instructions:
                text = clean_instruction(text)
                if not looks_like_instruction(text):
                    discarded.append((text, "not_an_instruction"))
                elif normalize(text) in found:
                    discarded.append((text, "duplicate"))
                else:
                    found[normalize(text)] = text  # more than asked is kept: it is paid for
        return list(found.values()), discarded
