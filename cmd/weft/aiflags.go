package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/ai"
	"github.com/weft-dev/weft/ai/echo"
	"github.com/weft-dev/weft/ai/openai"
)

// The environment variables of the AI providers.
const (
	envAIBaseURL    = "WEFT_AI_BASE_URL"
	envAIAPIKey     = "WEFT_AI_API_KEY"
	envOpenAIAPIKey = "OPENAI_API_KEY" // the fallback of WEFT_AI_API_KEY
	envAIModel      = "WEFT_AI_MODEL"
)

// aiProviderNames are the providers --ai-provider may name.
var aiProviderNames = []string{echo.Name, openai.DefaultName}

// aiFlags are the AI flags of weft run.
type aiFlags struct {
	provider string
	rpm      int
}

func (a *aiFlags) register(cmd *cobra.Command) {
	flags := cmd.Flags()
	flags.StringVar(&a.provider, "ai-provider", "", "the default AI provider `NAME` of ai steps: echo (offline dry runs) or openai (an OpenAI-compatible server; the default when $"+
		envAIBaseURL+" or an API key is set)")
	flags.IntVar(&a.rpm, "ai-rpm", 0, "send the openai provider at most `N` requests per minute, shared by all steps (0: no limit)")
}

// providers builds the AI providers of weft run from the flags and the
// environment: "openai" when a base URL or an API key is set (or
// --ai-provider openai), "echo" when --ai-provider echo; the default is
// --ai-provider, else openai. It returns nil when there is none.
func (a *aiFlags) providers() (*ai.Providers, error) {
	if a.rpm < 0 {
		return nil, usagef("--ai-rpm %d: expected 0 (no limit) or more requests per minute", a.rpm)
	}
	baseURL := os.Getenv(envAIBaseURL)
	key := os.Getenv(envAIAPIKey)
	if key == "" {
		key = os.Getenv(envOpenAIAPIKey)
	}
	name := a.provider
	switch {
	case name != "" && name != echo.Name && name != openai.DefaultName:
		msg := fmt.Sprintf("--ai-provider %q: expected echo (offline, for dry runs) or openai (an OpenAI-compatible server)", name)
		if s := weft.DidYouMean(name, aiProviderNames); s != "" {
			msg += " (" + s + ")"
		}
		return nil, usagef("%s", msg)
	case name == "" && (baseURL != "" || key != ""):
		name = openai.DefaultName
	case name == "":
		return nil, nil
	}
	ps := &ai.Providers{}
	if name == openai.DefaultName || baseURL != "" || key != "" {
		if baseURL == "" && key == "" {
			return nil, usagef("--ai-provider openai: set $%s (an OpenAI-compatible server, such as Ollama's http://localhost:11434/v1) or $%s (or $%s) for OpenAI",
				envAIBaseURL, envAIAPIKey, envOpenAIAPIKey)
		}
		p, err := openai.New(openai.Config{
			Name: openai.DefaultName, BaseURL: baseURL, APIKey: key, Model: os.Getenv(envAIModel), RequestsPerMinute: a.rpm,
		})
		if err != nil { // only a malformed base URL can fail
			return nil, usagef("$%s: %v", envAIBaseURL, err)
		}
		if err := ps.Add(openai.DefaultName, p); err != nil {
			return nil, err
		}
	}
	if name == echo.Name {
		if err := ps.Add(echo.Name, echo.New()); err != nil {
			return nil, err
		}
	}
	if err := ps.SetDefault(name); err != nil {
		return nil, err
	}
	return ps, nil
}
