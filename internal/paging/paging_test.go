package paging

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// pages serves the given pages in order, counting fetches.
func pages(calls *int, ps ...[]int) Fetch[int] {
	return func(context.Context) ([]int, bool, error) {
		i := *calls
		*calls++
		if i >= len(ps) {
			return nil, false, errors.New("fetched past the last page")
		}
		return ps[i], i < len(ps)-1, nil
	}
}

func collect(seq func(func(int, error) bool)) (got []int, errs []error) {
	for v, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, v)
	}
	return got, errs
}

func TestAll(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name      string
		fetch     func(calls *int) Fetch[int]
		ctx       func() context.Context
		stopAfter int // break after this many items; 0: never
		want      []int
		wantErrs  []error
		wantCalls int
	}{
		{name: "every page in order", fetch: func(c *int) Fetch[int] { return pages(c, []int{1, 2}, []int{3}, []int{4, 5}) },
			want: []int{1, 2, 3, 4, 5}, wantCalls: 3},
		{name: "an empty page ends the sequence even if more is claimed", fetch: func(c *int) Fetch[int] {
			return func(context.Context) ([]int, bool, error) { *c++; return nil, true, nil }
		}, wantCalls: 1},
		{name: "break stops fetching", fetch: func(c *int) Fetch[int] { return pages(c, []int{1, 2}, []int{3}, []int{4}) },
			stopAfter: 2, want: []int{1, 2}, wantCalls: 1},
		{name: "an error is yielded once and ends the sequence", fetch: func(c *int) Fetch[int] {
			return func(context.Context) ([]int, bool, error) {
				*c++
				if *c == 2 {
					return nil, true, boom
				}
				return []int{*c}, true, nil
			}
		}, want: []int{1}, wantErrs: []error{boom}, wantCalls: 2},
		{name: "a cancelled context fetches nothing", fetch: func(c *int) Fetch[int] { return pages(c, []int{1}) },
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			}, wantErrs: []error{context.Canceled}, wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			calls := 0
			seq := All(ctx, tt.fetch(&calls))
			if calls != 0 {
				t.Fatal("fetched before ranging")
			}
			var got []int
			var errs []error
			if tt.stopAfter > 0 {
				for v := range seq {
					got = append(got, v)
					if len(got) == tt.stopAfter {
						break
					}
				}
			} else {
				got, errs = collect(seq)
			}
			if !slices.Equal(got, tt.want) || calls != tt.wantCalls || len(errs) != len(tt.wantErrs) {
				t.Fatalf("got %v, errs %v, %d fetches; want %v, %v, %d", got, errs, calls, tt.want, tt.wantErrs, tt.wantCalls)
			}
			for i := range errs {
				if !errors.Is(errs[i], tt.wantErrs[i]) {
					t.Errorf("err %d = %v, want %v", i, errs[i], tt.wantErrs[i])
				}
			}
		})
	}
}

// TestContextCancelledBetweenPages: the context is checked before each
// page, so cancelling mid-sequence stops before the next fetch.
func TestContextCancelledBetweenPages(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	var got []int
	var errs []error
	for v, err := range All(ctx, pages(&calls, []int{1, 2}, []int{3})) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, v)
		cancel()
	}
	if !slices.Equal(got, []int{1, 2}) || calls != 1 || len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Fatalf("got %v, errs %v, %d fetches", got, errs, calls)
	}
}
