/**
 * Image work with sharp (libvips): reading dimensions at completion and making the
 * thumbnail in the `media.thumbnail` job. sharp's default pixel limit (~268 megapixels)
 * stays on, so a small file that decodes to a huge image (a decompression bomb) is refused
 * instead of exhausting memory.
 */
import sharp from 'sharp';

/** Longest side of a thumbnail, in pixels. */
export const THUMBNAIL_MAX_SIDE = 320;
export const THUMBNAIL_CONTENT_TYPE = 'image/webp';

export interface Dimensions {
  width: number;
  height: number;
}

/**
 * Width and height as displayed (EXIF orientation applied), read from the header only;
 * null when the bytes are not a decodable image header (or are cut before its end).
 */
export async function imageDimensions(bytes: Uint8Array): Promise<Dimensions | null> {
  try {
    const m = await sharp(bytes).metadata();
    if (!m.width || !m.height) return null;
    // Orientations 5–8 rotate by 90°: the displayed image is the other way round.
    const swap = (m.orientation ?? 1) >= 5;
    // For animations sharp reports the whole strip's height; one frame is pageHeight.
    const height = m.pageHeight ?? m.height;
    return swap ? { width: height, height: m.width } : { width: m.width, height };
  } catch {
    return null;
  }
}

/** A thumbnail no larger than THUMBNAIL_MAX_SIDE on its longest side (first frame of an animation). */
export async function renderThumbnail(bytes: Uint8Array): Promise<{ body: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(bytes)
    .rotate()
    .resize({ width: THUMBNAIL_MAX_SIDE, height: THUMBNAIL_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 78 })
    .toBuffer({ resolveWithObject: true });
  return { body: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
