/*
 * pages.pml — a page: blocks its owner hands out and any process gives back, each move one store
 * or one atomic read-modify-write, with deaths at every step; and the page's return to the core.
 *
 * Stands for:
 *   include/talc/pages/page.hpp        Page::take (collect, then a free block's live bit),
 *                                      Page::collect, Page::give_back (hint, then fetch_or)
 *   include/talc/pages/page_table.hpp  PageTable::release_empty (a page with no block held goes
 *                                      back to the core, under the lock), allocate_elsewhere
 *                                      (the owner clears the hint before it looks)
 *
 * One page of B blocks. Its owner (a lane's thread) hands blocks out to NUSERS user processes,
 * collects what they gave back, and, when no block is held, gives the page back to the core.
 * Each user gives back the blocks it holds (a free by another process than the one that
 * allocated, without the lock), and may free a block a second time while nobody was handed it
 * since (a double free, which must change nothing). The owner may die at any step, and a new
 * owner then works the lane's page (the lane's next owner inherits its pages); a user may die at
 * any step too, keeping what it holds. At most MAXDEATHS deaths in all.
 *
 * Abstractions: the lock is not modelled (only the owner makes and returns its pages; lanes.pml
 * and lock.pml check ownership and the lock); a map word is one bit per block; memory is
 * sequentially consistent (the code's acquire/release and fetch_or give it on a real machine).
 *
 * Properties (safety):
 *   - a block is handed out only when nobody holds it and nothing marks it given back;
 *   - every block is, between any two steps, free (live 0, freed 0), held by a user or in the
 *     owner's hands (live 1, freed 0), given back (1, 1) or being collected (0, 1): a block
 *     whose live bit is set with nothing given back is always someone's (the monitor);
 *   - a free of a held block succeeds, a double free is refused and changes nothing;
 *   - no process writes into the page once it went back to the core.
 *
 * Mutants (each must give a counterexample; scripts/check-models checks that they do):
 *   MUTANT_FREED_FIRST       collect clears the freed bits before the live ones: a block that
 *                            nobody holds looks handed out (the monitor)
 *   MUTANT_HINT_AFTER_FREE   a free writes the owner's hint after its fetch_or, when the page
 *                            may already be back with the core (a write into a returned page)
 */

#ifndef NUSERS
#define NUSERS 2
#endif
#ifndef MAXDEATHS
#define MAXDEATHS 1
#endif
#define B 2
#define NOBODY 0  /* users are 1 .. NUSERS */

bit live[B], freed[B];
bit hint;
bit returned;          /* the page went back to the core */
byte holder[B];        /* ghost: the user that holds block b, or NOBODY */
bit in_hands[B];       /* ghost: the owner set b's live bit and has not handed b out yet */
bit handed_since[B];   /* ghost: b's live bit was set again since its last free (a second free
                        * then races a new holder, which no allocator can tell: not modelled) */
byte deaths;

#define MAY_DIE if :: deaths < MAXDEATHS -> deaths++; goto dead :: skip fi

/* A write into the page: never after it went back to the core. */
#define PAGE_WRITE assert(!returned)

active proctype Owner()
{
  byte b, u;
  bit l, f;
incarnation:
  do
  :: returned -> break
  :: !returned ->
     /* allocate_elsewhere: the hint cleared before the maps are read */
     atomic { PAGE_WRITE; hint = 0 };
     MAY_DIE;
     b = 0;
     do
     :: b < B ->
        /* Page::take: a word's freed bits collected, then a free block's live bit set */
        atomic { l = live[b]; f = freed[b] };
        if
        :: f ->
#ifdef MUTANT_FREED_FIRST
           atomic { PAGE_WRITE; freed[b] = 0 };
           MAY_DIE;
           atomic { PAGE_WRITE; live[b] = 0 };
#else
           atomic { PAGE_WRITE; live[b] = 0 };      /* Page::collect: live &= ~f */
           MAY_DIE;
           atomic { PAGE_WRITE; freed[b] = 0 };     /* freed.fetch_and(~f) */
#endif
           MAY_DIE;
           l = 0
        :: else
        fi;
        if
        :: atomic { !l && !freed[b] ->
             assert(holder[b] == NOBODY && !in_hands[b]);
             PAGE_WRITE; live[b] = 1; in_hands[b] = 1; handed_since[b] = 1 };
           MAY_DIE;
           /* the block's word, then the block is the caller's, who hands it to a user */
           atomic {
             if
             :: u = 1
             :: NUSERS > 1 -> u = 2
             fi;
             holder[b] = u; in_hands[b] = 0
           }
        :: skip
        fi;
        b++
     :: b == B -> break
     od;
     /* PageTable::release_empty, under the lock: no block held (live without freed) */
     atomic {
       if
       :: !(live[0] && !freed[0]) && !(live[1] && !freed[1]) && !in_hands[0] && !in_hands[1] ->
          returned = 1
       :: else
       fi
     }
  od;
  goto end;
dead:
  /* the lane's next owner works the page from where this one left it; a block whose live bit
   * the dead one set stays in its hands (in_hands), which keeps the page from going back */
  goto incarnation;
end:
  skip
}

proctype User(byte me)
{
  byte b;
  bit stale[B];  /* b was this user's and it gave b back: a second free is a double free */
  do
  :: atomic { returned -> break }
  :: b = 0;
     do
     :: b < B ->
        if
        :: holder[b] == me ->
           /* Page::give_back: the block must be handed out, then the hint, then one fetch_or */
           assert(live[b]);
#ifndef MUTANT_HINT_AFTER_FREE
           atomic { PAGE_WRITE; hint = 1 };
           MAY_DIE;
#endif
           atomic {
             PAGE_WRITE;
             assert(!freed[b]);  /* a held block's free succeeds */
             freed[b] = 1; holder[b] = NOBODY; handed_since[b] = 0; stale[b] = 1
           };
           MAY_DIE;
#ifdef MUTANT_HINT_AFTER_FREE
           atomic { PAGE_WRITE; hint = 1 };
#endif
           skip
        :: atomic { stale[b] && !handed_since[b] && !returned ->
             /* a double free, its two looks as one step (between them it races the block's
              * collection and next hand-out, or the page's return: a race in the caller that
              * no allocator can see, README's limit): refused by the live bit, or by the
              * fetch_or finding the bit set, nothing changed */
             if
             :: !live[b] -> skip  /* not_allocated */
             :: live[b] -> PAGE_WRITE; assert(freed[b])  /* fetch_or: already set */
             fi;
             stale[b] = 0
           }
        :: else
        fi;
        b++
     :: b == B -> break
     od
  od;
  goto end;
dead:
  skip;  /* what it held stays live: in its own hands */
end:
  skip
}

/* Every block whose live bit is set with nothing given back is someone's. */
active proctype Monitor()
{
end:
  do
  :: atomic { ((live[0] && !freed[0]) && holder[0] == NOBODY && !in_hands[0]) ||
              ((live[1] && !freed[1]) && holder[1] == NOBODY && !in_hands[1]) -> assert(0) }
  od
}

init
{
  atomic {
    run User(1);
    if :: NUSERS > 1 -> run User(2) :: else fi
  }
}
