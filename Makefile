# Everyday commands. `make run` starts the whole system; `make test` runs the whole suite.
.PHONY: venv run test lint format migrate build bench clean

venv:
	scripts/bootstrap.sh

run:
	scripts/run.sh

test:
	scripts/test.sh

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: venv
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

migrate: venv
	.venv/bin/python manage.py migrate

build:
	docker build \
	  --build-arg VERSION=$$(git describe --tags --always) \
	  --build-arg BUILD_DATE=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	  --build-arg GIT_COMMIT=$$(git rev-parse HEAD) \
	  -t codeai:latest .

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
