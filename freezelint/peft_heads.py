"""transformers task classes that put a new, randomly initialised head on a pretrained body, and what
PEFT needs to train it: one table for FZ111's rule (check) and its run-time twin (findings). It
imports nothing, so either side loads it without torch or libcst."""

from __future__ import annotations

import re

# `...For<Task>`: the task, read off the class name
TASK_HEAD = re.compile(r"For(SequenceClassification|TokenClassification|QuestionAnswering|ImageClassification|"
                       r"AudioClassification|VideoClassification|MultipleChoice)$")
# the task_type under which PEFT trains a copy of the head (others: only modules_to_save does)
TASK_TYPE = {"SequenceClassification": "SEQ_CLS", "TokenClassification": "TOKEN_CLS",
             "QuestionAnswering": "QUESTION_ANS"}
# the head's attribute names (`score` on decoder-only models, `qa_outputs` for question answering)
HEAD_ATTRS = ("classifier", "score", "qa_outputs")


def head_name(task: str) -> str:
    """The head's usual attribute for a task."""
    return "qa_outputs" if task == "QuestionAnswering" else "classifier"
