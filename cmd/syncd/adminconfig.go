package main

import "path/filepath"

// storeDescription is what the admin page shows as this instance's store.
func (c *Config) storeDescription() string {
	if c.Store == "memory" {
		return "memory (nothing survives a restart)"
	}
	return "bolt " + filepath.Join(c.DataDir, "syncd.db")
}
