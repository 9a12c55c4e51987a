package main

import "path/filepath"

// storeDescription is what the admin page shows as this instance's store.
func (c *Config) storeDescription(nodeName string) string {
	switch c.Store {
	case "memory":
		return "memory (nothing survives a restart)"
	case "nats":
		return c.natsMode(nodeName)
	}
	return "bolt " + filepath.Join(c.DataDir, "syncd.db")
}
