"""Reading the user's setup: the config file, references, Lightning objects, setup errors."""
