"""Small helpers with no better home: file I/O, meters, seeding, parameter counting."""
