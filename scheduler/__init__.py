"""When things happen: periodic jobs that call handlers, each run claimed in the database."""
