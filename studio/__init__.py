"""What every front end calls (`service.Studio`: register, recommend, render and record, tag,
suggest) and the curators' tools on it: rendering with a record, parameter sweeps with contact
sheets, the filter strip's looks, and the web page (`studio.web`)."""
