"""The review app: a full-screen terminal app (Textual) over the pending reviews of an --interactive run.

It shows what agent.workflow.reviews returns and answers through it; `lit2code review RUN_ID` (and
`lit2code run --interactive` when the run pauses) launches it.
"""

from agent.review_app.app import ReviewApp, Summary

__all__ = ["ReviewApp", "Summary"]
