//! Selection and scrolling of a virtualised list: only the rows in the window
//! are ever rendered, whatever the list's length.

/// The selected row and the first row shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Scroll {
    pub sel: usize,
    pub top: usize,
}

impl Scroll {
    /// Moves the selection by `delta` rows within `len`, keeping it inside a
    /// window of `height` rows (the view follows only when the selection leaves it).
    pub(crate) fn go(&mut self, delta: isize, len: usize, height: usize) {
        let target = self.sel as isize + delta;
        self.set(target.max(0) as usize, len, height);
    }

    pub(crate) fn set(&mut self, sel: usize, len: usize, height: usize) {
        self.sel = sel.min(len.saturating_sub(1));
        self.top = self.window(len, height);
    }

    /// The first row to show: `top`, moved just enough to show the selection.
    pub(crate) fn window(&self, len: usize, height: usize) -> usize {
        let h = height.max(1);
        let mut top = self.top.min(len.saturating_sub(h));
        if self.sel < top {
            top = self.sel;
        } else if self.sel >= top + h {
            top = self.sel + 1 - h;
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_follows_only_when_needed() {
        let mut s = Scroll::default();
        s.go(5, 100, 10);
        assert_eq!((s.sel, s.top), (5, 0));
        s.go(10, 100, 10);
        assert_eq!((s.sel, s.top), (15, 6));
        s.go(-3, 100, 10);
        assert_eq!((s.sel, s.top), (12, 6));
        s.go(1000, 100, 10);
        assert_eq!((s.sel, s.top), (99, 90));
        s.go(-1000, 100, 10);
        assert_eq!((s.sel, s.top), (0, 0));
        s.set(3, 0, 10);
        assert_eq!((s.sel, s.top), (0, 0));
    }
}
