"""The worker: claims due work from the database and runs the services. Any number may
run against PostgreSQL at once; they coordinate only through the database."""
