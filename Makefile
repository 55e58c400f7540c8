# make deb: the Debian package dist/fail2ban-scan_VERSION_ARCH.deb (README.md, Install).
# Needs go and git; nothing is downloaded but Go modules. VERSION defaults to the checkout's
# (packaging version: 1.2.3 on a tag, 0.0.0~git20260815.abc1234 without one).

GO      ?= go
# The host's architecture: the build runs the binary to write the man page and completions.
ARCH    := $(shell $(GO) env GOARCH)
BUILD   := dist/build
# File times in the package are the commit's: one commit, one .deb, byte for byte.
# -buildvcs=auto overrides a GOFLAGS=-buildvcs=false; the -X values name the commit where go
# cannot (git worktrees).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct)
export SOURCE_DATE_EPOCH

.PHONY: deb clean
deb:
	@mkdir -p $(BUILD)
	cd packaging && $(GO) build -o ../$(BUILD)/packaging .
	@set -e; \
	version=$$($(BUILD)/packaging version $(if $(VERSION),-check '$(VERSION)')); \
	echo "version $$version"; \
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto \
		-ldflags "-s -w -X main.version=$$version -X main.revision=$$(git rev-parse HEAD)" \
		-o $(BUILD)/fail2ban-scan . ; \
	$(BUILD)/fail2ban-scan man | gzip -9n > $(BUILD)/fail2ban-scan.8.gz; \
	$(BUILD)/fail2ban-scan completion bash > $(BUILD)/completion.bash; \
	$(BUILD)/fail2ban-scan completion zsh > $(BUILD)/completion.zsh; \
	$(BUILD)/packaging deb -version "$$version" -arch $(ARCH) -build $(BUILD) -out dist

clean:
	rm -rf dist
