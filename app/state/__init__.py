"""Application state objects: the single source of truth widgets subscribe to."""

from app.state.project_state import ProjectState

__all__ = ["ProjectState"]
