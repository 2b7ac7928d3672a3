DROP TABLE event_undo;
