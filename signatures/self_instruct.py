"""Self-Instruct baseline: brainstorm new tasks from a handful of examples.

Self-Instruct (Wang et al. 2022) grows a task pool by showing a model a few
tasks from the pool and asking for more. The wording here is our own.
"""

import dspy


class BrainstormTasks(dspy.Signature):
    """Invent new tasks that a person might ask an AI assistant to do.

    The examples only show the range of what people ask for: the new tasks
    must not repeat or lightly reword them, and should differ from the
    examples and from each other in topic, verb, length and form (questions,
    requests to write, classify, rewrite, explain, plan, compute...). Each
    task is one complete, self-contained instruction that a text-only
    assistant can carry out, so never ask it to look at pictures, listen to
    audio, open files or browse the web. Write only the tasks: no answers, no
    numbering, no commentary.
    """

    examples: list[str] = dspy.InputField(desc="tasks already in the pool, for inspiration")
    count: int = dspy.InputField(desc="how many new tasks to write")
    new_instructions: list[str] = dspy.OutputField(desc="the new tasks, one instruction each")
