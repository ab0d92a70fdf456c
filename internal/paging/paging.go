// Package paging turns page-fetching functions into lazy iterators.
package paging

import (
	"context"
	"iter"
)

// Fetch returns the next page. more is false when no page follows.
type Fetch[T any] func(ctx context.Context) (items []T, more bool, err error)

// All yields every item of every page. Nothing is fetched until the sequence
// is ranged over; breaking out stops fetching; the context is checked before
// each page and an error ends the sequence after being yielded once.
func All[T any](ctx context.Context, next Fetch[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for {
			if err := ctx.Err(); err != nil {
				yield(zero, err)
				return
			}
			items, more, err := next(ctx)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if !more || len(items) == 0 {
				return
			}
		}
	}
}
