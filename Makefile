# Everyday commands. `make run` starts the whole system; `make test` runs the whole suite.
.PHONY: venv run test lint format migrate build wheel bench clean

venv:
	scripts/bootstrap.sh

run:
	scripts/run.sh

test:
	scripts/test.sh

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

format: venv
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

migrate: venv
	.venv/bin/codeai server migrate

# The image: the Dockerfile's build args feed `codeai version`.
build:
	docker build \
	  --build-arg VERSION=$$(git describe --tags --always) \
	  --build-arg BUILD_DATE=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	  --build-arg GIT_COMMIT=$$(git rev-parse HEAD) \
	  -t codeai:latest .

# The installable wheel (what the image installs): dist/codeai-<version>-py3-none-any.whl
wheel: venv
	.venv/bin/pip wheel --no-deps --no-build-isolation --wheel-dir dist .

clean:
	rm -rf var staticfiles dist build .pytest_cache .ruff_cache
