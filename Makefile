# Two commands do all set-up on a fresh machine:
#   make demo   render the template with its defaults and show the project running
#   make test   the template's full test suite (needs PostgreSQL and Redis on 127.0.0.1)
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
# Four, on two cores: the tests mostly wait on the servers, workers and Prometheus they
# start. The two render suites take one worker each for their whole run; with two
# workers every other file waited for the shorter one to end (652 s against 478 s, CI).
PYTEST_WORKERS ?= 4
BENCH_PG ?= postgres://postgres@127.0.0.1:5432/health_bench
BENCH_REDIS ?= redis://127.0.0.1:6379/12
# Caches and tool state stay in the repo (README), not in $HOME: uv's and pip's
# download caches, cookiecutter's replay files and cloned templates.
CACHE := $(CURDIR)/.cache
# A caller may name other download caches (.ci/run keeps uv's between clean clones).
export UV_CACHE_DIR ?= $(CACHE)/uv
export PIP_CACHE_DIR ?= $(CACHE)/pip
export COOKIECUTTER_CONFIG := $(CACHE)/cookiecutter/config.yaml

.PHONY: demo test test-fast test-image lint bench clean

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q "uv>=0.5,<1"
	$(VENV)/bin/uv pip install -q --python $(PYTHON) -r pyproject.toml --extra dev
	rm -f $(VENV)/.installed-* && touch $@

$(COOKIECUTTER_CONFIG): Makefile
	mkdir -p $(@D)
	printf 'cookiecutters_dir: "%s/templates/"\nreplay_dir: "%s/replay/"\n' $(@D) $(@D) > $@

demo: $(STAMP) $(COOKIECUTTER_CONFIG)  ## Render with defaults, install, migrate, serve briefly, print answers
	PYTHONPATH=scripts $(PYTHON) scripts/demo.py

# The renders' suites run a redis-server of their own and a real Prometheus (and promtool).
DEBIAN_TOOLS := redis-server=redis-server prometheus=prometheus promtool=prometheus

test: $(STAMP) $(COOKIECUTTER_CONFIG)  ## Changelog gate, then the full template test suite
	bash scripts/ensure_debian_packages.sh $(DEBIAN_TOOLS)
	$(PYTHON) scripts/changelog_gate.py
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-fast: $(STAMP) $(COOKIECUTTER_CONFIG)  ## Everything but the tests on PostgreSQL and Redis
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) -m "not slow and not e2e and not services and not image"

# Debian's buildah, podman, runc and debootstrap, installed when missing; the stand-in base
# is made once into .cache/image/ (README).
IMAGE_TOOLS := buildah=buildah podman=podman runc=runc debootstrap=debootstrap
test-image: $(STAMP) $(COOKIECUTTER_CONFIG)  ## Build the render's image with buildah, run it with podman (not in make test)
	bash scripts/ensure_debian_packages.sh --with-recommends $(IMAGE_TOOLS)
	$(PYTHON) -m pytest -m image tests/test_image.py

bench: $(STAMP) $(COOKIECUTTER_CONFIG)  ## Benchmarks (loopback only, a few minutes); results go to BENCHMARKS.md by hand
	bash scripts/ensure_debian_packages.sh wrk=wrk valgrind=valgrind
	$(PYTHON) scripts/ensure_database.py $(BENCH_PG)
	$(PYTHON) bench/bench_requests.py
	$(PYTHON) bench/sentry_options.py
	$(PYTHON) bench/bench_metrics.py
	REDIS_URL=$(BENCH_REDIS) $(PYTHON) bench/bench_metrics_recycles.py --checkpoints 0,100,500
	$(PYTHON) bench/bench_celery_probes.py
	$(PYTHON) bench/bench_trace_ids.py
	$(PYTHON) bench/bench_health.py --database-url $(BENCH_PG) --redis-url $(BENCH_REDIS)

lint: $(STAMP)  ## Lint the template's own code (renders are linted by the tests)
	$(VENV)/bin/ruff check hooks scripts tests bench local_extensions.py
	$(VENV)/bin/ruff format --check hooks scripts tests bench local_extensions.py

clean:  ## Remove venvs, caches and demo output
	rm -rf $(VENV) .cache .demo
