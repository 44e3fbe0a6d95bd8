//! Sequential composition: tuples of modules.

use super::{GradSink, Module, Parameterization, Params, TangentSink, Zeroed};
use crate::{Error, Real, Rng};

/// `true` if the first `n` flags are all `true`.
const fn all_free(free: &[bool], n: usize) -> bool {
    let mut i = 0;
    while i < n {
        if !free[i] {
            return false;
        }
        i += 1;
    }
    true
}

macro_rules! tuple_zeroed {
    ($($m:ident),+) => {
        impl<$($m: Zeroed),+> Zeroed for ($($m,)+) {
            const ZEROED: Self = ($($m::ZEROED,)+);

            fn zeroed() -> Self {
                ($($m::zeroed(),)+)
            }
        }
    };
}

/// `impl_seq!(first (M0, X => Y0) rest [(M1, Y0 => Y1) ...] rev [idx ...])`:
/// each module's input is the previous one's output.
macro_rules! impl_seq {
    ([$($m:ident $i:tt $x:ident $y:ident),+] last $last:ident rev [$($r:tt)+]) => {
        impl<T: Real, $($m,)+ X0, $($y),+> Module<T, X0> for ($($m,)+)
        where
            $($m: Module<T, $x, Output = $y>,)+
        {
            type Output = $last;
            type Cache = ($($m::Cache,)+);

            #[inline]
            fn forward(&self, x: &X0, cache: &mut Self::Cache) -> $last {
                impl_seq!(@fwd self, cache, x, $($i)+)
            }

            #[inline]
            fn backward(&self, cache: &Self::Cache, dy: &$last, grad: &mut Self) -> X0 {
                impl_seq!(@bwd self, cache, dy, (grad), $($r)+)
            }

            #[inline]
            fn backward_with<S: GradSink<T>>(&self, cache: &Self::Cache, dy: &$last, sink: &mut S) -> X0 {
                impl_seq!(@sink self, cache, dy, sink, $($r)+)
            }

            const PARAMETER_FREE: bool = true $(&& <$m as Module<T, $x>>::PARAMETER_FREE)+;

            #[inline]
            fn backward_params<S: GradSink<T>>(&self, cache: &Self::Cache, dy: &$last, sink: &mut S) {
                impl_seq!(@params self, cache, dy, sink, [$(<$m as Module<T, $x>>::PARAMETER_FREE),+], $($r)+)
            }

            type BatchCache<const B: usize> = ($($m::BatchCache<B>,)+);

            #[inline]
            fn forward_batch<const B: usize>(&self, xs: &[X0; B], cache: &mut Self::BatchCache<B>) -> [$last; B] {
                impl_seq!(@fwdb self, cache, xs, $($i)+)
            }

            #[inline]
            fn backward_with_batch<S: GradSink<T>, const B: usize>(
                &self,
                cache: &Self::BatchCache<B>,
                dys: &[$last; B],
                sinks: &mut [S; B],
            ) -> [X0; B] {
                impl_seq!(@sinkb self, cache, dys, sinks, $($r)+)
            }

            #[inline]
            fn backward_params_batch<S: GradSink<T>, const B: usize>(
                &self,
                cache: &Self::BatchCache<B>,
                dys: &[$last; B],
                sinks: &mut [S; B],
            ) {
                impl_seq!(@paramsb self, cache, dys, sinks, [$(<$m as Module<T, $x>>::PARAMETER_FREE),+], $($r)+)
            }

            #[inline]
            fn forward_tangent(
                &self,
                x: &X0,
                dx: &X0,
                v: &Self,
                cache: &mut Self::Cache,
                tangent: &mut Self::Cache,
            ) -> Result<($last, $last), Error> {
                impl_seq!(@fwdt self, cache, tangent, v, x, dx, $($i)+)
            }

            #[inline]
            fn backward_tangent<S: TangentSink<T>>(
                &self,
                cache: &Self::Cache,
                tangent: &Self::Cache,
                v: &Self,
                dy: &$last,
                ddy: &$last,
                sink: &mut S,
            ) -> Result<(X0, X0), Error> {
                impl_seq!(@bwdt self, cache, tangent, v, dy, ddy, sink, $($r)+)
            }
        }

        impl<T: Real, $($m: Params<T>),+> Params<T> for ($($m,)+) {
            const NUM_PARAMS: usize = 0 $(+ $m::NUM_PARAMS)+;
            const DENSE_LAYERS: usize = 0 $(+ $m::DENSE_LAYERS)+;
            const DENSE_IN: usize = 0 $(+ $m::DENSE_IN)+;
            const DENSE_OUT: usize = 0 $(+ $m::DENSE_OUT)+;

            fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
                $($m::dense_shapes(f);)+
            }
            fn factor_shapes<F: FnMut(usize, usize, usize)>(f: &mut F) {
                $($m::factor_shapes(f);)+
            }
            fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
                $(self.$i.visit(f);)+
            }
            fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
                $(self.$i.visit_mut(f);)+
            }
            fn is_finite(&self) -> bool {
                true $(&& self.$i.is_finite())+
            }
            fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
                $(self.$i.zip(&other.$i, f);)+
            }
            fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
                $(self.$i.zip_mut(&other.$i, f);)+
            }
            fn reinit(&mut self, rng: &mut Rng) {
                $(self.$i.reinit(rng);)+
            }
            fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization) {
                $(self.$i.set_scales(weight_std, bias_std, parameterization);)+
            }
        }
    };
    (@fwd $s:ident, $c:ident, $x:ident, $first:tt $($i:tt)*) => {{
        let h = $s.$first.forward($x, &mut $c.$first);
        $(let h = $s.$i.forward(&h, &mut $c.$i);)*
        h
    }};
    (@bwd $s:ident, $c:ident, $dy:ident, ($g:ident), $first:tt $($i:tt)*) => {{
        let h = $s.$first.backward(&$c.$first, $dy, &mut $g.$first);
        $(let h = $s.$i.backward(&$c.$i, &h, &mut $g.$i);)*
        h
    }};
    (@fwdt $s:ident, $c:ident, $t:ident, $v:ident, $x:ident, $dx:ident, $first:tt $($i:tt)*) => {{
        let (h, dh) = $s.$first.forward_tangent($x, $dx, &$v.$first, &mut $c.$first, &mut $t.$first)?;
        $(let (h, dh) = $s.$i.forward_tangent(&h, &dh, &$v.$i, &mut $c.$i, &mut $t.$i)?;)*
        Ok((h, dh))
    }};
    (@bwdt $s:ident, $c:ident, $t:ident, $v:ident, $dy:ident, $ddy:ident, $g:ident, $first:tt $($i:tt)*) => {{
        let (h, dh) = $s.$first.backward_tangent(&$c.$first, &$t.$first, &$v.$first, $dy, $ddy, $g)?;
        $(let (h, dh) = $s.$i.backward_tangent(&$c.$i, &$t.$i, &$v.$i, &h, &dh, $g)?;)*
        Ok((h, dh))
    }};
    (@fwdb $s:ident, $c:ident, $x:ident, $first:tt $($i:tt)*) => {{
        let h = $s.$first.forward_batch($x, &mut $c.$first);
        $(let h = $s.$i.forward_batch(&h, &mut $c.$i);)*
        h
    }};
    (@sinkb $s:ident, $c:ident, $dy:ident, $g:ident, $first:tt $($i:tt)*) => {{
        let h = $s.$first.backward_with_batch(&$c.$first, $dy, $g);
        $(let h = $s.$i.backward_with_batch(&$c.$i, &h, $g);)*
        h
    }};
    // From the last layer down: a layer behind parameter-free ones only
    // (a constant) is the last one visited, without its input cotangent.
    (@params $s:ident, $c:ident, $dy:ident, $g:ident, $free:tt, $first:tt) => {
        $s.$first.backward_params(&$c.$first, $dy, $g)
    };
    (@params $s:ident, $c:ident, $dy:ident, $g:ident, $free:tt, $i:tt $($rest:tt)+) => {{
        if const { all_free(&$free, $i) } {
            return $s.$i.backward_params(&$c.$i, $dy, $g);
        }
        let h = &$s.$i.backward_with(&$c.$i, $dy, $g);
        impl_seq!(@params $s, $c, h, $g, $free, $($rest)+)
    }};
    // The same for a batch.
    (@paramsb $s:ident, $c:ident, $dy:ident, $g:ident, $free:tt, $first:tt) => {
        $s.$first.backward_params_batch(&$c.$first, $dy, $g)
    };
    (@paramsb $s:ident, $c:ident, $dy:ident, $g:ident, $free:tt, $i:tt $($rest:tt)+) => {{
        if const { all_free(&$free, $i) } {
            return $s.$i.backward_params_batch(&$c.$i, $dy, $g);
        }
        let h = &$s.$i.backward_with_batch(&$c.$i, $dy, $g);
        impl_seq!(@paramsb $s, $c, h, $g, $free, $($rest)+)
    }};
    (@sink $s:ident, $c:ident, $dy:ident, $g:ident, $first:tt $($i:tt)*) => {{
        let h = $s.$first.backward_with(&$c.$first, $dy, $g);
        $(let h = $s.$i.backward_with(&$c.$i, &h, $g);)*
        h
    }};
}

tuple_zeroed!(A);
tuple_zeroed!(A, B);
tuple_zeroed!(A, B, C);
tuple_zeroed!(A, B, C, D);
tuple_zeroed!(A, B, C, D, E);
tuple_zeroed!(A, B, C, D, E, F);
tuple_zeroed!(A, B, C, D, E, F, G);
tuple_zeroed!(A, B, C, D, E, F, G, H);
tuple_zeroed!(A, B, C, D, E, F, G, H, I);
tuple_zeroed!(A, B, C, D, E, F, G, H, I, J);
tuple_zeroed!(A, B, C, D, E, F, G, H, I, J, K);
tuple_zeroed!(A, B, C, D, E, F, G, H, I, J, K, L);
impl_seq!([M0 0 X0 Y0] last Y0 rev [0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1] last Y1 rev [1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2] last Y2 rev [2 1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2, M3 3 Y2 Y3] last Y3 rev [3 2 1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2, M3 3 Y2 Y3, M4 4 Y3 Y4] last Y4 rev [4 3 2 1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2, M3 3 Y2 Y3, M4 4 Y3 Y4, M5 5 Y4 Y5] last Y5 rev [5 4 3 2 1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2, M3 3 Y2 Y3, M4 4 Y3 Y4, M5 5 Y4 Y5, M6 6 Y5 Y6] last Y6 rev [6 5 4 3 2 1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2, M3 3 Y2 Y3, M4 4 Y3 Y4, M5 5 Y4 Y5, M6 6 Y5 Y6, M7 7 Y6 Y7] last Y7 rev [7 6 5 4 3 2 1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2, M3 3 Y2 Y3, M4 4 Y3 Y4, M5 5 Y4 Y5, M6 6 Y5 Y6, M7 7 Y6 Y7, M8 8 Y7 Y8] last Y8 rev [8 7 6 5 4 3 2 1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2, M3 3 Y2 Y3, M4 4 Y3 Y4, M5 5 Y4 Y5, M6 6 Y5 Y6, M7 7 Y6 Y7, M8 8 Y7 Y8, M9 9 Y8 Y9] last Y9 rev [9 8 7 6 5 4 3 2 1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2, M3 3 Y2 Y3, M4 4 Y3 Y4, M5 5 Y4 Y5, M6 6 Y5 Y6, M7 7 Y6 Y7, M8 8 Y7 Y8, M9 9 Y8 Y9, M10 10 Y9 Y10] last Y10 rev [10 9 8 7 6 5 4 3 2 1 0]);
impl_seq!([M0 0 X0 Y0, M1 1 Y0 Y1, M2 2 Y1 Y2, M3 3 Y2 Y3, M4 4 Y3 Y4, M5 5 Y4 Y5, M6 6 Y5 Y6, M7 7 Y6 Y7, M8 8 Y7 Y8, M9 9 Y8 Y9, M10 10 Y9 Y10, M11 11 Y10 Y11] last Y11 rev [11 10 9 8 7 6 5 4 3 2 1 0]);
