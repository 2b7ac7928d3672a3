//! Flows through `update` without a terminal or a daemon: actions in, model and effects out.
