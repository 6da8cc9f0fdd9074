package secret

import "fmt"

// SealFields returns a copy of meta in which the string values of the named keys are sealed.
// Other values are copied as they are (shallowly); absent or empty keys stay so.
func SealFields(b *Box, meta map[string]any, keys []string) (map[string]any, error) {
	return mapFields(meta, keys, func(key, v string) (string, error) {
		sealed, err := b.Seal([]byte(v))
		if err != nil {
			return "", fmt.Errorf("sealing %s: %w", key, err)
		}
		return sealed, nil
	})
}

// OpenFields is the inverse of SealFields: a copy of meta with the named keys opened.
func OpenFields(b *Box, meta map[string]any, keys []string) (map[string]any, error) {
	return mapFields(meta, keys, func(key, v string) (string, error) {
		plain, err := b.Open(v)
		if err != nil {
			return "", fmt.Errorf("opening %s: %w", key, err)
		}
		return string(plain), nil
	})
}

func mapFields(meta map[string]any, keys []string, fn func(key, v string) (string, error)) (map[string]any, error) {
	out := make(map[string]any, len(meta))
	for k, v := range meta {
		out[k] = v
	}
	for _, k := range keys {
		v, ok := out[k].(string)
		if !ok || v == "" {
			continue
		}
		mapped, err := fn(k, v)
		if err != nil {
			return nil, err
		}
		out[k] = mapped
	}
	return out, nil
}
