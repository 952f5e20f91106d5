"""Any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp): chat completions (`chat`,
reading replies in `replies`, translating failures in `errors`, the wire format in `wire`), the start-up
check of tool calling (`probe`) and embeddings (`embedder`). The only place the `openai` client is used."""
